#pragma once
// The far end of a terminal session (docs/operations.md#terminal): a shell
// somewhere — on a local pty (api/terminal.cc), in a Kubernetes pod
// (adapters/kubernetes/pod_exec.h), in a Swarm task's container
// (adapters/swarm/container_exec.h). The API's WebSocket bridges a client to
// one; every operation runs on the io_context the channel was opened on, one
// read and one write outstanding at most.
#include <functional>
#include <string>
#include <string_view>

namespace wharf::runtime {

class ShellChannel {
 public:
  virtual ~ShellChannel() = default;

  // The shell's next output. `ok` false: it ended (exit, remote close,
  // error, cancel); end_reason() says how.
  virtual void async_read(std::function<void(bool ok, std::string_view output)> done) = 0;
  // Sends input to the shell; `ok` false when it no longer takes any.
  virtual void async_write(std::string input, std::function<void(bool ok)> done) = 0;
  // Sets the shell's window size (the terminal's columns and rows): the
  // pty's TIOCSWINSZ, exec channel 4, Docker's exec resize. `error` is empty
  // when the size was handed on, else what refused it; the shell goes on
  // either way.
  virtual void async_resize(uint16_t cols, uint16_t rows,
                            std::function<void(std::string error)> done) = 0;
  // Aborts the outstanding operations (their handlers see ok == false).
  virtual void cancel() = 0;
  // Once async_read reported the end on its own: waits until end_reason()
  // knows the exit code (the pty's waitpid, Docker's exec inspect), so the
  // client's close frame can carry it. Blocking, bounded, and never runs the
  // session's io_context: it is called from one of its handlers. A target
  // that learns the code from the stream itself needs nothing here.
  virtual void await_exit() {}
  // Ends the shell (hang-up, close of the remote session); blocking, bounded.
  virtual void close() = 0;
  // After the output ended: "shell exited <code>" when the code is known,
  // else what ended it ("shell exited", "exec error: …").
  virtual std::string end_reason() const = 0;
};

}  // namespace wharf::runtime

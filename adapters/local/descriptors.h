#pragma once
// What a process wharf starts may inherit: its stdin, stdout and stderr and
// nothing else — never the API's listening socket, a client's connection,
// Kafka's or the store's descriptors (issue 21). Two defences:
//  - every launch path calls close_descriptors_above_stderr() in the child
//    between fork and exec (adapters/local/process.cc, api/terminal.cc);
//  - the sockets and pipes wharf opens itself carry close-on-exec, so a
//    launch path that forgets the first still does not leak them.
// Libraries (librdkafka, RocksDB, libssh) open descriptors of their own; the
// child-side close is what covers those.
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace wharf::local {

// In a child after fork, before exec: closes every descriptor above 2.
// close_range(2) (Linux 5.9); where that fails, each number listed in
// /proc/self/fd; without /proc, every number below RLIMIT_NOFILE.
// Async-signal-safe: no allocation, no lock.
void close_descriptors_above_stderr() noexcept;

// Sets FD_CLOEXEC on `fd` (for descriptors a library opened without it,
// e.g. the sockets Boost.Asio's accept returns). False when fcntl fails.
bool set_close_on_exec(int fd) noexcept;

// acceptor.open(protocol) with a close-on-exec socket from the start
// (Asio's own open does not pass SOCK_CLOEXEC).
void open_close_on_exec(boost::asio::ip::tcp::acceptor& acceptor,
                        const boost::asio::ip::tcp& protocol, boost::system::error_code& ec);

}  // namespace wharf::local

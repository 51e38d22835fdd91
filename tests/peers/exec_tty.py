"""The exec'd command of the Portainer test peer (stdlib
only): with a TTY its stdin is a pty, so `stty size` in it reports the window
size the peer's resize (exec channel 4, POST exec/{id}/resize) set on the
pty; stdout and stderr stay one pipe, so the output bytes are exactly what the
command wrote (no echo, no CR before LF, no prompt: the shell is not
interactive). Without a TTY all three are pipes, as before."""
import fcntl
import os
import struct
import subprocess
import termios
import threading


class Exec:
    def __init__(self, command, cwd, tty):
        self.master = None
        self.lock = threading.Lock()  # resizes come from other request threads
        self.tty = tty
        if tty:
            self.master, slave = os.openpty()
            attrs = termios.tcgetattr(slave)
            attrs[3] &= ~(termios.ECHO | termios.ECHONL)  # lflag: input does not come back
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
            try:
                self.proc = subprocess.Popen(command, stdin=slave, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, cwd=cwd,
                                             start_new_session=True)
            except OSError:
                os.close(self.master)
                raise
            finally:
                os.close(slave)
        else:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, cwd=cwd)
        self.stdout = self.proc.stdout

    def write(self, data):
        if not self.tty:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return
        with self.lock:
            while data and self.master is not None:
                data = data[os.write(self.master, data):]

    def close_stdin(self):
        if not self.tty:
            self.proc.stdin.close()
            return
        with self.lock:
            if self.master is not None:
                os.write(self.master, b"\x04")  # VEOF: end of input at the start of a line

    def resize(self, cols, rows):
        """Sets the pty's window size; False without a TTY or once released."""
        with self.lock:
            if self.master is None:
                return False
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            return True

    def release(self):
        """Closes the pty once the session is over (no write or resize after it)."""
        with self.lock:
            if self.master is not None:
                os.close(self.master)
                self.master = None

    def wait(self):
        return self.proc.wait()

    def poll(self):
        return self.proc.poll()

    def kill(self):
        self.proc.kill()

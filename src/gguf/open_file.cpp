// Opening a model (or store) file without trusting what the path names: a FIFO would block
// open() and read() forever, a device or directory is never a model. See open_regular_file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gguf/gguf.h"

namespace pocketlm::gguf {
namespace {

const char* file_type_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  return "not a plain file";
}

error open_error(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR: return error{"cannot open " + path + ": " + std::strerror(err), error_kind::not_found};
    case ELOOP:
      return error{"cannot open " + path + ": too many levels of symbolic links (a symlink loop?)",
                   error_kind::invalid_input};
    case ENAMETOOLONG: return error{"cannot open " + path + ": " + std::strerror(err), error_kind::invalid_input};
    case ENXIO:  // a socket, or a FIFO/device with nothing behind it
      return error{path + ": not a regular file", error_kind::invalid_input};
    default: return error{"cannot open " + path + ": " + std::strerror(err), error_kind::io};
  }
}

}  // namespace

result<int> open_regular_file(const std::string& path, struct stat* st_out) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return open_error(path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return error{"cannot stat " + path + ": " + std::strerror(e), error_kind::io};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error{path + ": not a regular file (" + file_type_name(st.st_mode) + ")", error_kind::invalid_input};
  }
  // Reads of a regular file never return EAGAIN, but the flag would leak into dup()s and
  // whatever the caller does next: clear it.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  if (st_out) *st_out = st;
  return fd;
}

}  // namespace pocketlm::gguf

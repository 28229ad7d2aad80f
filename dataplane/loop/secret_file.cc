#include "loop/secret_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

namespace srdx {

std::string read_secret_file(const std::string& path, const std::string& what, std::string& out,
                             size_t min_length) {
  // O_NONBLOCK: a FIFO planted at the path must not hang the reader.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ELOOP) {
      return path + " is a symbolic link; accepted: a regular file holding " + what +
             " (a link could be pointed elsewhere)";
    }
    return path + ": cannot read (" + std::strerror(errno) +
           "); accepted: an existing file holding " + what;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return path + ": cannot read (" + std::strerror(errno) + ")";
  if (!S_ISREG(st.st_mode)) return path + ": not a regular file";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if (st.st_mode & S_IROTH) {
    return path + " is world-readable (mode " + mode +
           "); accepted: a file others cannot read (chmod 600 or 640)";
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return path + " is writable by others than its owner (mode " + mode +
           "); accepted: chmod 600 or 640";
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return path + " is owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
           std::to_string(::geteuid()) + ") or root; accepted: chown it";
  }
  constexpr size_t kMaxBytes = 64 * 1024;
  if (static_cast<uint64_t>(st.st_size) > kMaxBytes) {
    return path + " is " + std::to_string(st.st_size) + " bytes; accepted: a file holding " + what +
           " (at most 64 KiB)";
  }
  std::string t(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < t.size()) {
    const ssize_t r = ::read(fd, t.data() + got, t.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      OPENSSL_cleanse(t.data(), t.size());
      return path + ": cannot read (" + std::strerror(errno) + ")";
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  t.resize(got);
  const char* ws = " \t\r\n";
  const size_t b = t.find_first_not_of(ws);
  if (b == std::string::npos) {
    OPENSSL_cleanse(t.data(), t.size());
    return path + " is empty; accepted: a file holding " + what;
  }
  std::string word = t.substr(b, t.find_last_not_of(ws) - b + 1);
  OPENSSL_cleanse(t.data(), t.size());
  for (char ch : word) {
    if (static_cast<unsigned char>(ch) < 0x21 || static_cast<unsigned char>(ch) > 0x7e) {
      OPENSSL_cleanse(word.data(), word.size());
      return path + ": " + what + " must be one word of printable ASCII characters";
    }
  }
  if (word.size() < min_length) {
    const size_t n = word.size();
    OPENSSL_cleanse(word.data(), word.size());
    return path + ": " + what + " is " + std::to_string(n) + " characters; accepted: at least " +
           std::to_string(min_length) + " (e.g. openssl rand -hex 16)";
  }
  out = std::move(word);
  return {};
}

std::string read_private_key_file(const std::string& path, PrivateKey& key,
                                  const std::string& how_to_make) {
  std::string text;
  if (std::string err = read_secret_file(path, "the private key", text); !err.empty()) return err;
  const std::optional<PrivateKey> k = key_from_base64(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!k) {
    return path + ": not a private key; accepted: 44 characters of base64 (" + how_to_make + ")";
  }
  if (is_zero(*k)) return path + ": the private key is all zero; accepted: " + how_to_make;
  key = *k;
  return {};
}

}  // namespace srdx

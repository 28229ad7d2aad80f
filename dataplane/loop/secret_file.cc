#include "loop/secret_file.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

namespace srdx {

std::string read_secret_file(const std::string& path, const std::string& what, std::string& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return path + ": cannot read (" + std::strerror(errno) +
           "); accepted: an existing file holding " + what;
  }
  if (!S_ISREG(st.st_mode)) return path + ": not a regular file";
  if (st.st_mode & S_IROTH) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return path + " is world-readable (mode " + mode +
           "); accepted: a file others cannot read (chmod 600 or 640)";
  }
  std::ifstream in(path);
  if (!in) return path + ": cannot read (" + std::strerror(errno) + ")";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
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

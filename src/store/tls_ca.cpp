#include "store/tls_ca.h"

#include <unistd.h>

#include <cstdlib>

namespace pocketlm::store {

std::string tls_ca_file() {
  if (const char* file = std::getenv("SSL_CERT_FILE"); file && *file) return file;
  if (const char* dir = std::getenv("SSL_CERT_DIR"); dir && *dir) return "";
  auto readable = [](const std::string& p) { return access(p.c_str(), R_OK) == 0; };
  if (const char* prefix = std::getenv("PREFIX"); prefix && *prefix) {
    std::string termux = std::string(prefix) + "/etc/tls/cert.pem";
    if (readable(termux)) return termux;
  }
  for (const char* p : {"/data/data/com.termux/files/usr/etc/tls/cert.pem", "/etc/ssl/certs/ca-certificates.crt",
                        "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"}) {
    if (readable(p)) return p;
  }
  return "";
}

}  // namespace pocketlm::store

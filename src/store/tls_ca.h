// Which CA bundle the registry client (pull, push) checks server certificates against: the
// static (Termux) binary's OpenSSL looks in Debian's /usr/lib/ssl, which a phone does not have.
#pragma once

#include <string>

namespace pocketlm::store {

// The first of: $SSL_CERT_FILE; Termux's $PREFIX/etc/tls/cert.pem (and Termux's default prefix);
// the usual Linux bundles (Debian/Ubuntu/Alpine, Fedora/RHEL, openSUSE, /etc/ssl/cert.pem).
// "" (OpenSSL's own default paths, $SSL_CERT_DIR included) when $SSL_CERT_DIR is set or none
// of those exists.
std::string tls_ca_file();

}  // namespace pocketlm::store

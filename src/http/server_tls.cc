// TLS for the server: a context from the certificate and key files, held to TLS 1.2+ and
// forward-secret AEAD ciphers, loaded at Create() and again on each ReloadTls().
#include <openssl/ssl.h>

#include <boost/asio/buffer.hpp>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "common/regular_file.h"
#include "http/server_internal.h"
#include "http/tls_key_file.h"

namespace coffer::http::server_internal {

namespace {

// TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only (TLS 1.3 suites are all of that kind
// and keep OpenSSL's defaults).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// A server TLS context from PEM files. Errors name the file at fault, never its content; a key
// file other users could read or change is refused.
StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                       const std::string& key_file) {
  try {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                         ssl::context::single_dh_use | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1);
    SSL_CTX* handle = context->native_handle();
    SSL_CTX_set_min_proto_version(handle, TLS1_2_VERSION);
    SSL_CTX_set_options(handle, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_cipher_list(handle, kTls12Ciphers) != 1) {
      return Err(InternalError("the TLS cipher list was refused by OpenSSL"));
    }
    // OpenSSL opens the certificate by name: a FIFO would stall it, and the server, for good.
    // (The key is read through ReadTlsPrivateKey, which refuses one itself.)
    RETURN_IF_ERROR(CheckRegularFile(cert_file, "TLS certificate"));
    beast::error_code ec;
    context->use_certificate_chain_file(cert_file, ec);
    if (ec) {
      return Err(InvalidArgumentError("cannot load the TLS certificate chain from " + cert_file +
                                      ": " + ec.message()));
    }
    // Read through a descriptor whose owner and mode were checked (http/tls_key_file.h).
    auto key_pem = ReadTlsPrivateKey(key_file);
    if (!key_pem.has_value()) {
      return Err(InvalidArgumentError(key_pem.error().message()));
    }
    context->use_private_key(asio::buffer(key_pem->data(), key_pem->size()), ssl::context::pem, ec);
    if (ec) {
      return Err(InvalidArgumentError("cannot load the TLS private key from " + key_file + ": " +
                                      ec.message()));
    }
    if (SSL_CTX_check_private_key(handle) != 1) {
      return Err(InvalidArgumentError("the TLS private key in " + key_file +
                                      " does not match the certificate in " + cert_file));
    }
    return context;
  } catch (const std::exception& e) {
    return Err(InternalError(std::string("cannot set up TLS: ") + e.what()));
  }
}

}  // namespace

Status BeastHttpServer::LoadTls() {
  if (!tls()) {
    return OkStatus();
  }
  ASSIGN_OR_RETURN(std::shared_ptr<ssl::context> context,
                   MakeTlsContext(options_.tls_cert_file, options_.tls_key_file));
  MutexLock lock(mu_);
  tls_context_ = std::move(context);
  return OkStatus();
}

Status BeastHttpServer::ReloadTls() {
  if (!tls()) {
    return FailedPreconditionError("the server does not use TLS");
  }
  return LoadTls();
}

}  // namespace coffer::http::server_internal

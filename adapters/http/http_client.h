#pragma once
// One blocking HTTP/1.1 exchange over http:// or https:// (Boost.Beast,
// OpenSSL with the system's CA store or a given CA file, SNI and host-name
// verification). For the adapters that call other systems' REST APIs
// (Kubernetes, Gerrit catch-up); one connection per call, no redirects.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/expected.h"

namespace wharf::http_client {

// A client certificate and its private key (PEM, in memory: a credential
// opened from the sealed store, never logged), presented in the TLS handshake
// (Kubernetes client_cert targets). `subject` describes it for messages.
struct ClientCertificate {
  std::string cert_pem, key_pem;
  std::string subject;  // "CN=…, O=… (issued by CN=…, valid until …)": not secret
  bool empty() const { return cert_pem.empty(); }
};

// Reads a client certificate and key: both parse as PEM, the key is the
// certificate's, and the certificate is valid now. Fills `subject`; fails
// saying which of these does not hold (naming the certificate, never
// printing the key).
Expected<ClientCertificate, std::string> client_certificate(std::string cert_pem,
                                                            std::string key_pem);

struct Request {
  std::string method = "GET";
  std::string url;  // http(s)://host[:port]/path?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  std::string ca_file;            // https: trust this CA bundle instead of the system's
  bool verify_tls = true;         // https: false only for test peers with throwaway certs
  ClientCertificate client_cert;  // https: presented to the server when set
};

struct Response {
  int status = 0;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // as received

  // The first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

// Fails only when no HTTP answer came (resolve, connect, TLS, timeout); any
// status code is a Response.
Expected<Response, std::string> send(const Request& request);

// Why exchange() got no answer. `request_sent` is false when nothing of the
// request was written (bad URL, resolve, connect or TLS handshake failed): the
// server cannot have acted on it. True: it may have (a timeout or a reset
// while waiting for the answer) - the outcome is unknown.
struct SendError {
  std::string message;
  bool request_sent = false;
};
// send(), telling an unsent request from an unanswered one (forwarding a
// command to the cluster leader: api/cluster_forward.h).
Expected<Response, SendError> exchange(const Request& request);

// An exception's message for a person: Boost's system errors end in their
// source location (" [system:111 at …/reactive_socket_service.hpp:587:5 in
// function …]"), which is cut.
std::string error_text(const std::exception& e);

// The Authorization header value for HTTP Basic auth: "Basic base64(user:password)".
std::string basic_auth(std::string_view user, std::string_view password);

// "HTTP <status>: <message>" for an error answer: the "message" of a JSON
// error body (Kubernetes Status, Docker/Portainer errors), else the body's start.
std::string describe(const Response& response);

}  // namespace wharf::http_client

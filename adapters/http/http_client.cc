#include "adapters/http/http_client.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <memory>

#include "adapters/http/http_stream.h"

namespace wharf::http_client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Runs one asynchronous operation on `io` to its end; throws its error. Every
// step is asynchronous because beast::tcp_stream's expiry (Request::timeout)
// bounds only asynchronous operations: a synchronous read from a server that
// took the request and never answers blocked for good.
template <typename Initiate>
void await(asio::io_context& io, Initiate&& initiate) {
  beast::error_code ec;
  initiate([&ec](beast::error_code e, auto&&...) { ec = e; });
  io.restart();
  io.run();
  if (ec) throw beast::system_error(ec);
}

template <typename Stream>
Response round_trip(asio::io_context& io, Stream& stream,
                    const http::request<http::string_body>& req, bool& sent) {
  sent = true;  // from the first byte written on: the server may have acted on it
  await(io, [&](auto done) { http::async_write(stream, req, std::move(done)); });
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  await(io, [&](auto done) { http::async_read(stream, buffer, parser, std::move(done)); });
  const auto& res = parser.get();
  Response response{static_cast<int>(res.result_int()),
                    res.body(),
                    std::string(res[http::field::content_type]),
                    {}};
  for (const auto& field : res) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return response;
}

}  // namespace

Expected<Response, std::string> send(const Request& request) {
  auto response = exchange(request);
  if (!response) return unexpected(std::move(response.error().message));
  return std::move(*response);
}

Expected<Response, SendError> exchange(const Request& request) {
  auto unsent = [](std::string message) {
    return unexpected(SendError{std::move(message), false});
  };
  auto parsed = boost::urls::parse_uri(request.url);
  if (!parsed) return unsent("bad URL " + request.url);
  const bool tls = parsed->scheme() == "https";
  if (!tls && parsed->scheme() != "http")
    return unsent("URL must be http:// or https://: " + request.url);
  const std::string host = std::string(parsed->host());
  const std::string port = parsed->has_port() ? std::string(parsed->port()) : (tls ? "443" : "80");
  std::string target = std::string(parsed->encoded_path());
  if (target.empty()) target = "/";
  if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());

  http::request<http::string_body> req{http::string_to_verb(request.method), target, 11};
  if (req.method() == http::verb::unknown) return unsent("unknown HTTP method " + request.method);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "wharf");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (!request.body.empty() || req.method() == http::verb::patch ||
      req.method() == http::verb::post || req.method() == http::verb::put) {
    req.body() = request.body;
    req.prepare_payload();
  }
  const std::string what = request.method + " " + request.url;
  bool sent = false;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port);
    if (!tls) {
      beast::tcp_stream stream(io);
      stream.expires_after(request.timeout);  // one deadline for all that follows
      await(io, [&](auto done) { stream.async_connect(endpoints, std::move(done)); });
      Response response = round_trip(io, stream, req, sent);
      beast::error_code ignored;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      return response;
    }
    auto ctx = tls_context(request.ca_file, request.verify_tls, request.client_cert);
    beast::ssl_stream<beast::tcp_stream> stream(io, *ctx);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
      return unsent("cannot set TLS server name for " + host);
    }
    if (request.verify_tls) stream.set_verify_callback(asio::ssl::host_name_verification(host));
    beast::get_lowest_layer(stream).expires_after(request.timeout);
    await(io, [&](auto done) {
      beast::get_lowest_layer(stream).async_connect(endpoints, std::move(done));
    });
    await(io, [&](auto done) {
      stream.async_handshake(asio::ssl::stream_base::client, std::move(done));
    });
    Response response = round_trip(io, stream, req, sent);
    try {
      await(io, [&](auto done) { stream.async_shutdown(std::move(done)); });
    } catch (const std::exception&) {
      // the answer is complete; a server that skips close_notify is common
    }
    return response;
  } catch (const std::exception& e) {
    return unexpected(SendError{what + ": " + error_text(e), sent});
  }
}

namespace {

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using Key = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;

Bio memory_bio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string name_text(const X509_NAME* name) {
  Bio out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253);
  return bio_text(out.get());
}

std::string time_text(const ASN1_TIME* t) {
  Bio out(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(out.get(), t);
  return bio_text(out.get());
}

}  // namespace

Expected<ClientCertificate, std::string> client_certificate(std::string cert_pem,
                                                            std::string key_pem) {
  auto cert_bio = memory_bio(cert_pem);
  X509Ptr cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return unexpected(std::string("the client certificate is not a PEM certificate"));
  const std::string subject = name_text(X509_get_subject_name(cert.get()));
  const std::string issuer = name_text(X509_get_issuer_name(cert.get()));
  const std::string until = time_text(X509_get0_notAfter(cert.get()));
  const std::string named = "the client certificate " + subject + " (issued by " + issuer + ")";
  auto key_bio = memory_bio(key_pem);
  Key key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) return unexpected("the private key of " + named + " is not a PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return unexpected("the private key does not belong to " + named);
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    return unexpected(named + " expired on " + until);
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) >= 0) {
    return unexpected(named + " is not valid before " + time_text(X509_get0_notBefore(cert.get())));
  }
  ClientCertificate out;
  out.cert_pem = std::move(cert_pem);
  out.key_pem = std::move(key_pem);
  out.subject = subject + " (issued by " + issuer + ", valid until " + until + ")";
  return out;
}

std::string error_text(const std::exception& e) {
  std::string text = e.what();
  if (dynamic_cast<const boost::system::system_error*>(&e) == nullptr || text.empty() ||
      text.back() != ']') {
    return text;
  }
  // " [<category>:<value> at <file>:<line> in function '…']"
  const size_t at = text.find(" [");
  if (at != std::string::npos && text.find(" at ", at) != std::string::npos) text.resize(at);
  return text;
}

std::string basic_auth(std::string_view user, std::string_view password) {
  const std::string in = std::string(user) + ":" + std::string(password);
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return "Basic " + out;
}

std::string Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (boost::beast::iequals(key, name)) return value;
  }
  return {};
}

std::string describe(const Response& response) {
  std::error_code ec;
  auto parsed = boost::json::parse(response.body, ec);
  if (!ec && parsed.is_object()) {
    if (auto* m = parsed.as_object().if_contains("message"); m && m->is_string()) {
      return "HTTP " + std::to_string(response.status) + ": " + std::string(m->as_string());
    }
  }
  return "HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 300);
}

}  // namespace wharf::http_client

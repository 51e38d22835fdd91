#include "adapters/http/http_client.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

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
  Response response{static_cast<int>(res.result_int()), res.body(),
                    std::string(res[http::field::content_type]), {}};
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
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (!request.ca_file.empty()) {
      ctx.load_verify_file(request.ca_file);
    } else {
      ctx.set_default_verify_paths();
    }
    ctx.set_verify_mode(request.verify_tls ? asio::ssl::verify_peer : asio::ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
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

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

template <typename Stream>
Response round_trip(Stream& stream, const http::request<http::string_body>& req) {
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(stream, buffer, parser);
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
  auto parsed = boost::urls::parse_uri(request.url);
  if (!parsed) return unexpected("bad URL " + request.url);
  const bool tls = parsed->scheme() == "https";
  if (!tls && parsed->scheme() != "http")
    return unexpected("URL must be http:// or https://: " + request.url);
  const std::string host = std::string(parsed->host());
  const std::string port = parsed->has_port() ? std::string(parsed->port()) : (tls ? "443" : "80");
  std::string target = std::string(parsed->encoded_path());
  if (target.empty()) target = "/";
  if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());

  http::request<http::string_body> req{http::string_to_verb(request.method), target, 11};
  if (req.method() == http::verb::unknown)
    return unexpected("unknown HTTP method " + request.method);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "wharf");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (!request.body.empty() || req.method() == http::verb::patch ||
      req.method() == http::verb::post || req.method() == http::verb::put) {
    req.body() = request.body;
    req.prepare_payload();
  }
  const std::string what = request.method + " " + request.url;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port);
    if (!tls) {
      beast::tcp_stream stream(io);
      stream.expires_after(request.timeout);
      stream.connect(endpoints);
      Response response = round_trip(stream, req);
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
      return unexpected("cannot set TLS server name for " + host);
    }
    if (request.verify_tls) stream.set_verify_callback(asio::ssl::host_name_verification(host));
    beast::get_lowest_layer(stream).expires_after(request.timeout);
    beast::get_lowest_layer(stream).connect(endpoints);
    stream.handshake(asio::ssl::stream_base::client);
    Response response = round_trip(stream, req);
    beast::error_code ignored;
    stream.shutdown(ignored);
    return response;
  } catch (const std::exception& e) {
    return unexpected(what + ": " + error_text(e));
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

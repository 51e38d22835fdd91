#include "adapters/http/http_stream.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

namespace wharf::http_client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Expected<Endpoint, std::string> endpoint_of(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return unexpected("bad URL " + url);
  Endpoint e;
  e.tls = parsed->scheme() == "https";
  if (!e.tls && parsed->scheme() != "http")
    return unexpected("URL must be http:// or https://: " + url);
  e.host = std::string(parsed->host());
  e.port = parsed->has_port() ? std::string(parsed->port()) : (e.tls ? "443" : "80");
  e.target = std::string(parsed->encoded_path());
  if (e.target.empty()) e.target = "/";
  if (parsed->has_query()) e.target += "?" + std::string(parsed->encoded_query());
  return e;
}

std::shared_ptr<asio::ssl::context> tls_context(const std::string& ca_file, bool verify,
                                                const ClientCertificate& client) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file);
  } else {
    ctx->set_default_verify_paths();
  }
  ctx->set_verify_mode(verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  if (!client.empty()) {
    ctx->use_certificate_chain(asio::buffer(client.cert_pem));
    ctx->use_private_key(asio::buffer(client.key_pem), asio::ssl::context::pem);
  }
  return ctx;
}

namespace {

// Runs `io` until `done`, in ticks of `tick`; after each empty tick asks
// `keep_going` and, when it says no, cancels `stream` and returns false.
template <typename Stream, typename KeepGoing>
bool wait_for(asio::io_context& io, Stream& stream, const bool& done,
              std::chrono::milliseconds tick, KeepGoing&& keep_going) {
  while (!done) {
    io.restart();
    io.run_for(tick);
    if (!done && !keep_going()) {
      beast::get_lowest_layer(stream).cancel();
      while (!done) {
        io.restart();
        io.run();
      }
      return false;
    }
  }
  return true;
}

template <typename Stream>
Expected<void, std::string> exchange(asio::io_context& io, Stream& stream, const Endpoint& e,
                                     const Request& request, const ChunkSink& sink,
                                     const std::atomic<bool>& stop,
                                     std::chrono::milliseconds tick) {
  http::request<http::string_body> req{http::string_to_verb(request.method), e.target, 11};
  req.set(http::field::host, e.host);
  req.set(http::field::user_agent, "wharf");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (!request.body.empty()) {
    req.body() = request.body;
    req.prepare_payload();
  }
  const std::string what = request.method + " " + request.url;
  beast::get_lowest_layer(stream).expires_after(request.timeout);
  if (auto ec = run_async(io, [&](auto h) { http::async_write(stream, req, std::move(h)); })) {
    return unexpected(what + ": " + ec.message());
  }
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  if (auto ec = run_async(
          io, [&](auto h) { http::async_read_header(stream, buffer, parser, std::move(h)); })) {
    return unexpected(what + ": " + ec.message());
  }
  beast::get_lowest_layer(stream).expires_never();
  if (parser.get().result_int() != 200) {
    http::response_parser<http::string_body> rest{std::move(parser)};
    rest.body_limit(64 * 1024);
    beast::get_lowest_layer(stream).expires_after(request.timeout);
    run_async(io, [&](auto h) { http::async_read(stream, buffer, rest, std::move(h)); });
    Response r;
    r.status = static_cast<int>(rest.get().result_int());
    r.body = rest.get().body();
    return unexpected(describe(r));
  }
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    bool done = false;
    beast::error_code ec;
    http::async_read_some(stream, buffer, parser, [&](beast::error_code e2, size_t) {
      ec = e2;
      done = true;
    });
    if (!wait_for(io, stream, done, tick, [&] { return !stop.load() && sink({}); })) return {};
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return {};
    if (ec) return unexpected("reading " + request.url + ": " + ec.message());
    const size_t got = sizeof chunk - parser.get().body().size;
    if (got > 0 && !sink(std::string_view(chunk, got))) return {};
  }
  return {};
}

}  // namespace

Expected<void, std::string> stream_body(const Request& request, const ChunkSink& sink,
                                        const std::atomic<bool>& stop,
                                        std::chrono::milliseconds idle_tick) {
  auto e = endpoint_of(request.url);
  if (!e) return unexpected(e.error());
  asio::io_context io;
  auto result = with_connection<Expected<void, std::string>>(
      io, *e, request.ca_file, request.verify_tls, request.client_cert, request.timeout,
      [&](auto stream, auto /*tls context, alive until here*/) -> Expected<void, std::string> {
        try {
          return exchange(io, stream, *e, request, sink, stop, idle_tick);
        } catch (const std::exception& ex) {
          return unexpected(request.method + " " + request.url + ": " + ex.what());
        }
      });
  if (!result) return unexpected(result.error());
  return *result;
}

}  // namespace wharf::http_client

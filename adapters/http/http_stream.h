#pragma once
// Connections that outlive one request/response: a GET whose body is handed
// over as it arrives (Kubernetes pod logs, Docker service logs, followed
// live), and the connected plain or TLS stream that a WebSocket (Kubernetes
// exec) or a hijacked HTTP connection (Docker exec) runs on. Same URL, TLS
// and CA rules as http_client::send.
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/http/http_client.h"
#include "events/expected.h"

namespace wharf::http_client {

// A URL split for a connection: scheme, host, port and the request target
// (path and query).
struct Endpoint {
  bool tls = false;
  std::string host, port, target;
};
Expected<Endpoint, std::string> endpoint_of(const std::string& url);

// A TLS client context: `ca_file` (else the system's store), peer verification
// unless !verify, and `client` presented when set. Throws on a CA file or
// client certificate that does not load.
std::shared_ptr<boost::asio::ssl::context> tls_context(const std::string& ca_file, bool verify,
                                                       const ClientCertificate& client = {});

// Starts an asynchronous operation with `start(handler)` and runs `io` until
// its handler ran; returns the operation's error. For blocking use of a
// beast::tcp_stream whose expiry bounds the operation (its synchronous
// operations ignore the expiry). Nothing else may be pending on `io`.
template <typename Start>
boost::system::error_code run_async(boost::asio::io_context& io, Start&& start) {
  boost::system::error_code result;
  bool done = false;
  start([&](boost::system::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  while (!done) {
    io.restart();
    if (io.run_one() == 0) break;
  }
  return result;
}

// Connects to `e` on `io` (TCP, then the TLS handshake with SNI and host-name
// verification for https, presenting `client` when set) within `timeout`, and hands the connected
// stream — beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>, by value — to `f`, whose
// result is returned. Connection failures are an error string.
template <typename Result, typename F>
Expected<Result, std::string> with_connection(boost::asio::io_context& io, const Endpoint& e,
                                              const std::string& ca_file, bool verify,
                                              const ClientCertificate& client,
                                              std::chrono::milliseconds timeout, F&& f) {
  namespace beast = boost::beast;
  try {
    boost::asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(e.host, e.port);
    beast::tcp_stream tcp(io);
    tcp.expires_after(timeout);
    if (auto ec = run_async(io, [&](auto h) { tcp.async_connect(endpoints, std::move(h)); })) {
      return unexpected(e.host + ":" + e.port + ": " + ec.message());
    }
    if (!e.tls) {
      tcp.expires_never();
      return f(std::move(tcp), std::shared_ptr<boost::asio::ssl::context>{});
    }
    auto ctx = tls_context(ca_file, verify, client);
    beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), *ctx);
    if (!SSL_set_tlsext_host_name(tls.native_handle(), e.host.c_str())) {
      return unexpected("cannot set TLS server name for " + e.host);
    }
    if (verify) tls.set_verify_callback(boost::asio::ssl::host_name_verification(e.host));
    beast::get_lowest_layer(tls).expires_after(timeout);
    if (auto ec = run_async(io, [&](auto h) {
          tls.async_handshake(boost::asio::ssl::stream_base::client, std::move(h));
        })) {
      return unexpected(e.host + ":" + e.port + ": TLS handshake: " + ec.message());
    }
    beast::get_lowest_layer(tls).expires_never();
    return f(std::move(tls), std::move(ctx));
  } catch (const std::exception& ex) {
    return unexpected(e.host + ":" + e.port + ": " + error_text(ex));
  }
}

// What a streamed body is written to; false ends the stream. An empty chunk
// is sent every `idle_tick` without data, so the caller can notice a reader
// that left.
using ChunkSink = std::function<bool(std::string_view chunk)>;

// Sends `request` (usually a GET) and, on 200, hands the body to `sink` as it
// arrives (chunked or not, decoded) until the server ends it, `sink` answers
// false, or `stop` is set. Any other status is an error with
// describe(response) of its (first 64 KiB of) body.
Expected<void, std::string> stream_body(
    const Request& request, const ChunkSink& sink, const std::atomic<bool>& stop,
    std::chrono::milliseconds idle_tick = std::chrono::milliseconds(200));

}  // namespace wharf::http_client

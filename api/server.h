#pragma once
// The HTTP/1.1 server: Boost.Beast over Asio with a fixed pool of threads
// (ServerConfig::threads, default one per core). Keep-alive and pipelining,
// limits from ServerConfig (body 413, header 431, idle close, slow request
// 408, too many connections 503 + Retry-After), server-sent event streams,
// graceful drain in stop(). `wharf serve` constructs one:
//
//   api::Services services(store);            // + command bus, projections...
//   api::Server server(config, services);
//   server.start();                           // throws if it cannot bind
//   ... wait for SIGTERM ...
//   server.stop();                            // finishes in-flight requests
#include <cstdint>
#include <memory>

#include "api/app.h"
#include "api/config.h"
#include "api/metrics.h"

namespace wharf::api {

class Server {
 public:
  // `services` (and `metrics`, when given) must outlive the Server. Without
  // `metrics` the server keeps its own registry (metrics()).
  Server(ServerConfig config, Services& services, MetricsRegistry* metrics = nullptr);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads. Throws std::runtime_error when the
  // address cannot be bound.
  void start();
  // Stops accepting, lets in-flight requests finish (up to drain_timeout),
  // ends SSE streams and idle keep-alive connections, joins the threads.
  // Idempotent; call from any thread except the server's own.
  void stop();

  uint16_t port() const;  // the bound port (after start())
  App& app();
  MetricsRegistry& metrics();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wharf::api

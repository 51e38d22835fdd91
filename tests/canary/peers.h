#pragma once
// The test peers the canary tests talk to, each a process over a real
// socket (tests/peers/python_peer.h): tests/peers/portainer and
// tests/peers/prometheus, with their control endpoints. (Kubernetes is a
// real control plane: tests/peers/kubernetes_cluster.h.)
#include <boost/json.hpp>
#include <stdexcept>
#include <string>

#include "adapters/http/http_client.h"
#include "tests/peers/python_peer.h"
#include "tests/test_paths.h"

namespace wharf::canary_testing {

class PeerProcess {
 public:
  PeerProcess(const std::string& script, std::vector<std::string> args)
      : process_(script, std::move(args)) {}
  const std::string& url() const { return process_.url(); }

  // POST `body` to a control endpoint; anything but a 2xx throws.
  void post(const std::string& path, const boost::json::object& body) const {
    http_client::Request req;
    req.method = "POST";
    req.url = url() + path;
    req.body = boost::json::serialize(body);
    auto r = http_client::send(req);
    if (!r || r->status / 100 != 2) throw std::runtime_error("peer: POST " + path + " failed");
  }
  boost::json::object get(const std::string& path) const {
    http_client::Request req;
    req.url = url() + path;
    return boost::json::parse(http_client::send(req).value().body).as_object();
  }

 private:
  wharf::testing::PythonPeer process_;
};

// tests/peers/portainer (API key "ptr_testkey").
class PortainerPeer : public PeerProcess {
 public:
  PortainerPeer() : PeerProcess(WHARF_PORTAINER_PEER, {"--step", "0.05"}) {}
  void service(const std::string& name, int replicas) const {
    post("/peer/services",
         {{"name", name}, {"image", "registry.example/api:1.0.0"}, {"replicas", replicas}});
  }
  // Holds a service's update at "updating" or lets it complete.
  void hold(const std::string& name, bool hold) const {
    post("/peer/hold", {{"name", name}, {"hold", hold}});
  }
  boost::json::object services() const { return get("/peer/services"); }
};

// tests/peers/prometheus: instant queries answer the value a test sets.
class PrometheusPeer : public PeerProcess {
 public:
  PrometheusPeer() : PeerProcess(WHARF_PROMETHEUS_PEER, {}) {}
  void set(const std::string& query, const std::string& value) const {
    post("/peer/value", {{"query", query}, {"value", value}});
  }
  std::string query_url(const std::string& query) const {
    return url() + "/api/v1/query?query=" + query;
  }
  // How many times `query` was answered.
  int64_t answered(const std::string& query) const {
    auto stats = get("/peer/stats");
    auto* n = stats.if_contains(query);
    return n ? n->as_int64() : 0;
  }
};

}  // namespace wharf::canary_testing

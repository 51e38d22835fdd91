#pragma once
// Calls to one Jenkins server: Basic auth with user + API token, the CSRF
// crumb fetched when Jenkins asks for one (a 403 naming the crumb) and then
// sent on every POST, and retries with doubling backoff while Jenkins does
// not answer or answers 5xx. The server's credentials come from wharf's
// config (serve --jenkins-user/--jenkins-token), never from events.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "adapters/http/http_client.h"
#include "adapters/jenkins/jenkins_api.h"
#include "events/expected.h"

namespace wharf::jenkins {

struct ServerConfig {
  std::string url;  // default Jenkins root for build steps that name none
  std::string user;
  std::string token;  // API token (or password)
  std::string ca_file;
  bool insecure = false;                   // https without verification: test servers only
  int attempts = 4;                        // tries per call while Jenkins is down or answers 5xx
  std::chrono::milliseconds backoff{500};  // first wait; doubles per try
  std::chrono::milliseconds timeout{std::chrono::seconds(15)};
  // How many of a job's newest builds are searched (in pages of
  // builds_per_page) for the build a run + attempt started before a restart.
  uint64_t search_builds = 1000;
  uint64_t builds_per_page = 100;
};

class Client {
 public:
  Client(std::string root, const ServerConfig& server) : root_(std::move(root)), server_(server) {}

  const std::string& root() const { return root_; }

  // One call to `path` (with query) under the root. Any answer below 500 is
  // returned as it is (the caller reads the status); no answer or 5xx after
  // every try is an error with Jenkins' own message. `stop` ends the
  // backoff early (wharf shutting down).
  Expected<http_client::Response, std::string> call(const std::string& method,
                                                    const std::string& path,
                                                    const std::string& body = {},
                                                    const std::string& content_type = {},
                                                    const std::function<bool()>& stop = {});

  struct Stats {
    uint64_t retries = 0;        // tries after the first (no answer or 5xx)
    uint64_t crumb_fetches = 0;  // crumbs fetched because Jenkins asked
  };
  Stats stats() const { return {retries_.load(), crumb_fetches_.load()}; }

  // "HTTP 404: Not Found" style reason for an answer the caller did not expect.
  static std::string describe(const http_client::Response& response);

 private:
  Expected<http_client::Response, std::string> send_once(const std::string& method,
                                                         const std::string& path,
                                                         const std::string& body,
                                                         const std::string& content_type);
  Expected<void, std::string> fetch_crumb();

  std::string root_;
  ServerConfig server_;
  std::mutex mutex_;
  std::optional<Crumb> crumb_;  // set once Jenkins asked for one
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> crumb_fetches_{0};
};

}  // namespace wharf::jenkins

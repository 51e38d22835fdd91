#include "adapters/jenkins/client.h"

#include <spdlog/spdlog.h>

#include <thread>

namespace wharf::jenkins {

std::string Client::describe(const http_client::Response& response) {
  return "HTTP " + std::to_string(response.status) + ": " +
         error_text(response.header("X-Error"), response.body);
}

Expected<void, std::string> Client::fetch_crumb() {
  auto r = send_once("GET", "/crumbIssuer/api/json", {}, {});
  if (!r) return unexpected(r.error());
  std::lock_guard lock(mutex_);
  if (r->status == 404) {  // no crumb issuer: send none (python-jenkins' crumb=False)
    crumb_.reset();
    return {};
  }
  if (r->status != 200) return unexpected("GET /crumbIssuer/api/json: " + describe(*r));
  auto crumb = parse_crumb(r->body);
  if (!crumb) return unexpected(crumb.error());
  crumb_ = *crumb;
  return {};
}

Expected<http_client::Response, std::string> Client::send_once(const std::string& method,
                                                               const std::string& path,
                                                               const std::string& body,
                                                               const std::string& content_type) {
  http_client::Request req;
  req.method = method;
  req.url = join_url(root_, path);
  req.timeout = server_.timeout;
  req.ca_file = server_.ca_file;
  req.verify_tls = !server_.insecure;
  req.body = body;
  req.headers = {{"Accept", "application/json"}};
  if (!server_.user.empty()) {
    req.headers.emplace_back("Authorization", http_client::basic_auth(server_.user, server_.token));
  }
  if (!content_type.empty()) req.headers.emplace_back("Content-Type", content_type);
  if (method == "POST") {
    std::lock_guard lock(mutex_);
    if (crumb_) req.headers.emplace_back(crumb_->field, crumb_->value);
  }
  return http_client::send(req);
}

Expected<http_client::Response, std::string> Client::call(const std::string& method,
                                                          const std::string& path,
                                                          const std::string& body,
                                                          const std::string& content_type,
                                                          const std::function<bool()>& stop) {
  std::chrono::milliseconds wait = server_.backoff;
  std::string last;
  bool crumb_fetched = false;
  const int attempts = server_.attempts > 0 ? server_.attempts : 1;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    auto r = send_once(method, path, body, content_type);
    if (r && method == "POST" && !crumb_fetched && asks_for_crumb(r->status, r->body)) {
      // Jenkins wants a crumb (or ours went stale): fetch one and resend now.
      crumb_fetched = true;
      ++crumb_fetches_;
      if (auto fetched = fetch_crumb(); !fetched) return unexpected(fetched.error());
      --attempt;
      continue;
    }
    if (r && r->status < 500) return r;
    last = r ? method + " " + path + ": " + describe(*r) : r.error();
    if (attempt == attempts) break;
    spdlog::warn("jenkins: {} (try {} of {}; again in {} ms)", last, attempt, attempts,
                 wait.count());
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      if (stop && stop()) return unexpected("stopped while waiting for Jenkins: " + last);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    wait *= 2;
    ++retries_;
  }
  return unexpected("Jenkins at " + root_ + " failed " + std::to_string(attempts) +
                    " tries: " + last);
}

}  // namespace wharf::jenkins

#include "adapters/gerrit/catchup.h"

#include <time.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <algorithm>
#include <cstdio>

#include "adapters/gerrit/dedup_key.h"
#include "adapters/http/http_client.h"

namespace wharf::gerrit {
namespace json = boost::json;

namespace {

const json::value* at(const json::object& o, std::string_view key) { return o.if_contains(key); }

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = at(o, key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

uint64_t num(const json::object& o, std::string_view key) {
  const json::value* v = at(o, key);
  if (v && v->is_int64() && v->get_int64() > 0) return static_cast<uint64_t>(v->get_int64());
  if (v && v->is_uint64()) return v->get_uint64();
  return 0;
}

Account account(const json::value* v) {
  Account a;
  if (!v || !v->is_object()) return a;
  const json::object& o = v->get_object();
  a.name = str(o, "name");
  a.email = str(o, "email");
  a.username = str(o, "username");
  return a;
}

}  // namespace

int64_t parse_gerrit_timestamp(const std::string& text) {
  struct tm tm {};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

Expected<http_client::Response, std::string> rest_send(const RestOptions& options,
                                                       const std::string& method,
                                                       const std::string& path,
                                                       const std::string& body) {
  auto parsed = boost::urls::parse_uri(options.base_url);
  if (!parsed) return unexpected("bad Gerrit URL '" + options.base_url + "'");
  if (parsed->scheme() != "https" && parsed->scheme() != "http") {
    return unexpected("Gerrit URL must be http:// or https://: " + options.base_url);
  }
  std::string base = options.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  http_client::Request req;
  req.method = method;
  req.url = base + path;
  req.body = body;
  req.timeout = std::chrono::seconds(options.timeout_s);
  req.headers = {{"Accept", "application/json"}};
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json; charset=UTF-8");
  if (!options.user.empty()) {
    req.headers.emplace_back("Authorization",
                             http_client::basic_auth(options.user, options.http_password));
  }
  auto response = http_client::send(req);
  if (!response) return unexpected(method + " " + req.url + ": " + response.error());
  return std::move(*response);
}

Expected<std::string, std::string> rest_get(const RestOptions& options, const std::string& path) {
  auto response = rest_send(options, "GET", path);
  if (!response) return unexpected(response.error());
  if (response->status != 200) {
    return unexpected("GET " + options.base_url + path + ": HTTP " +
                      std::to_string(response->status) + " " + response->body.substr(0, 200));
  }
  return std::move(response->body);
}

std::string_view strip_xssi(std::string_view body) {
  if (body.starts_with(")]}'")) body.remove_prefix(4);
  return body;
}

Expected<std::vector<GerritEvent>, std::string> events_from_changes(const std::string& body,
                                                                    int64_t since_s,
                                                                    bool* more_changes) {
  std::string_view text = strip_xssi(body);
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_array()) return unexpected(std::string("changes reply is not a JSON list"));
  std::vector<GerritEvent> out;
  if (more_changes) *more_changes = false;
  for (const json::value& item : value.get_array()) {
    if (!item.is_object()) continue;
    const json::object& change = item.get_object();
    if (more_changes && at(change, "_more_changes")) *more_changes = true;
    GerritEvent e;
    e.project = str(change, "project");
    e.branch = str(change, "branch");
    e.ref_name = e.branch.empty() ? "" : "refs/heads/" + e.branch;
    e.change_id = str(change, "change_id");
    e.change_number = num(change, "_number");
    e.subject = str(change, "subject");
    e.change_status = str(change, "status");
    e.revision = str(change, "current_revision");
    int64_t happened = 0;
    if (const json::value* revs = at(change, "revisions"); revs && revs->is_object()) {
      if (const json::value* rev = revs->get_object().if_contains(e.revision);
          rev && rev->is_object()) {
        const json::object& r = rev->get_object();
        e.patchset = static_cast<uint32_t>(num(r, "_number"));
        e.patchset_ref = str(r, "ref");
        e.patchset_kind = str(r, "kind");
        happened = parse_gerrit_timestamp(str(r, "created"));
        if (const json::value* commit = r.if_contains("commit"); commit && commit->is_object()) {
          e.commit_author = account(commit->get_object().if_contains("author"));
        }
        e.actor = account(r.if_contains("uploader"));
      }
    }
    if (e.change_status == "MERGED") {
      e.type = "change-merged";
      happened = parse_gerrit_timestamp(str(change, "submitted"));
      if (Account submitter = account(at(change, "submitter")); !submitter.name.empty() ||
                                                                !submitter.username.empty()) {
        e.actor = submitter;
      }
    } else if (e.change_status == "NEW") {
      e.type = "patchset-created";
    } else {
      continue;
    }
    if (happened < since_s || e.revision.empty()) continue;
    e.created_on = happened;
    e.event_key = event_key(e, item);
    out.push_back(std::move(e));
  }
  return out;
}

Expected<std::vector<GerritEvent>, std::string> fetch_missed_events(const RestOptions& options,
                                                                    int64_t since_s,
                                                                    int64_t age_s) {
  std::vector<GerritEvent> all;
  const std::string base = options.user.empty() ? "/changes/" : "/a/changes/";
  for (size_t start = 0; start < options.max_changes; start += options.page_size) {
    std::string path = base + "?q=-age:" + std::to_string(std::max<int64_t>(age_s, 1)) +
                       "s&o=CURRENT_REVISION&o=CURRENT_COMMIT&o=DETAILED_ACCOUNTS&n=" +
                       std::to_string(options.page_size) + "&S=" + std::to_string(start);
    auto body = rest_get(options, path);
    if (!body) return unexpected(body.error());
    bool more = false;
    auto events = events_from_changes(*body, since_s, &more);
    if (!events) return unexpected(events.error());
    for (auto& e : *events) all.push_back(std::move(e));
    if (!more) break;
  }
  std::sort(all.begin(), all.end(),
            [](const GerritEvent& a, const GerritEvent& b) { return a.created_on < b.created_on; });
  return all;
}

}  // namespace wharf::gerrit

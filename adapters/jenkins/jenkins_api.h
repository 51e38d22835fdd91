#pragma once
// The pure half of the Jenkins build runner: URLs, parameter templates and
// the parsing of Jenkins' answers (crumb, queue item, build info, job builds,
// progressive text, the image artifact). No I/O; unit-tested in tests/jenkins.
// Protocol: ../shared/protocols.md §2 (python-jenkins' URL templates).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/expected.h"

namespace wharf::jenkins {

// The build parameter that carries wharf's "<run>#<attempt>": it makes every
// trigger unique (Jenkins coalesces identical queued parameters) and lets a
// restarted wharf find the build it started instead of starting another.
inline constexpr const char* kRunIdParameter = "WHARF_RUN_ID";

// "team/app/build" -> "/job/team/job/app/job/build" (segments percent-encoded).
std::string job_path(std::string_view job);
// Percent-encodes a query/form component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view text);
// `root` without trailing '/' + `path` (which starts with '/').
std::string join_url(std::string_view root, std::string_view path);
// "K=V&K2=V2" in name order, both sides encoded.
std::string query_of(const std::map<std::string, std::string>& parameters);

// Replaces each ${name} by values[name]; an unknown name is an error naming
// it. "$${" stays a literal "${".
Expected<std::string, std::string> expand(std::string_view text,
                                          const std::map<std::string, std::string>& values);

struct Crumb {
  std::string field;  // header name, e.g. "Jenkins-Crumb"
  std::string value;
};
Expected<Crumb, std::string> parse_crumb(std::string_view body);
// True when a 403 body/X-Error says the crumb is missing or stale.
bool asks_for_crumb(int status, std::string_view body);

// The queue id from buildWithParameters' Location (".../queue/item/<id>/").
std::optional<uint64_t> queue_id_of(std::string_view location);

struct QueueItem {
  enum class State { kWaiting, kStarted, kCancelled };
  State state = State::kWaiting;
  std::string why;  // why it is still queued
  uint64_t build_number = 0;
};
Expected<QueueItem, std::string> parse_queue_item(std::string_view body);

struct BuildInfo {
  uint64_t number = 0;
  bool building = true;
  std::string result;  // "" while running, then SUCCESS|UNSTABLE|FAILURE|NOT_BUILT|ABORTED
  uint64_t duration_ms = 0;
  std::string description;
  std::map<std::string, std::string> parameters;
  std::vector<std::string> artifacts;  // relativePath of each archived file
};
Expected<BuildInfo, std::string> parse_build_info(std::string_view body);

// The tree of one page of a job's builds, newest first: `allBuilds` with the
// range {first,first+count} (Jenkins' `builds` holds only the newest 100, so
// a build started before 100 others would never be found there).
std::string builds_page_tree(uint64_t first, uint64_t count);

// What one page of a job's builds (`allBuilds`, or `builds`) says about `key`:
// the number of the build whose run-id parameter is `key` (0: none on this
// page) and how many builds the page held (fewer than asked: the last page).
struct BuildSearch {
  uint64_t number = 0;
  size_t builds = 0;
};
Expected<BuildSearch, std::string> find_build(std::string_view job_json, std::string_view key);
// The id of the item in /queue/api/json for the job at `job_url_path`
// (its /job/... path) whose run-id parameter is `key`.
Expected<std::optional<uint64_t>, std::string> find_queued(std::string_view queue_json,
                                                           std::string_view job_url_path,
                                                           std::string_view key);

// What progressiveText's headers say: where to ask next, and whether more
// will come. A size below `start` means Jenkins restarted the text at 0.
struct ProgressiveText {
  uint64_t next_offset = 0;
  bool more = false;
  bool restarted = false;
};
ProgressiveText parse_progressive(std::string_view x_text_size, std::string_view x_more_data,
                                  uint64_t start, size_t body_size);

// The image a build produced.
struct Artifact {
  std::string image;   // "registry/app:tag"
  std::string digest;  // "sha256:<64 hex>"
  // What a deploy target pulls: image pinned by digest ("registry/app:tag@sha256:...").
  std::string reference() const;
};
bool valid_digest(std::string_view digest);
// An artifact file: {"image": "...", "digest": "sha256:..."} (also "ref"/"name"
// for the image; an image already pinned "…@sha256:…" needs no digest).
Expected<Artifact, std::string> parse_artifact(std::string_view body);
// "registry/app:tag@sha256:<hex>" (from a build parameter or description).
std::optional<Artifact> artifact_from_reference(std::string_view text);

// A readable reason from a Jenkins error answer: its X-Error header, the
// <title> of its HTML error page, or the start of the body.
std::string error_text(std::string_view x_error, std::string_view body);

}  // namespace wharf::jenkins

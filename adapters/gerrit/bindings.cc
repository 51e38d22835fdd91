#include "adapters/gerrit/bindings.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

namespace wharf::gerrit {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string without_port(const std::string& host) {
  // "[::1]:29418" and "host:29418"; a bare IPv6 address keeps its colons.
  if (host.starts_with('[')) {
    auto close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  if (std::count(host.begin(), host.end(), ':') == 1) return host.substr(0, host.find(':'));
  return host;
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

}  // namespace

bool glob_match(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

bool has_trigger_word(const std::string& comment,
                      const google::protobuf::RepeatedPtrField<std::string>& words) {
  const std::string haystack = lower(comment);
  for (const std::string& raw : words) {
    const std::string word = lower(raw);
    if (word.empty()) continue;
    for (size_t at = haystack.find(word); at != std::string::npos;
         at = haystack.find(word, at + 1)) {
      bool starts = at == 0 || !word_char(haystack[at - 1]);
      size_t end = at + word.size();
      bool ends = end == haystack.size() || !word_char(haystack[end]);
      if (starts && ends) return true;
    }
  }
  return false;
}

bool host_matches(const std::string& binding_host, const std::string& host) {
  if (binding_host.empty()) return true;
  return lower(without_port(binding_host)) == lower(without_port(host));
}

void BindingSet::apply(const wharf::v1::Envelope& event) {
  const auto& p = event.payload();
  if (p.has_project_created()) {
    const auto& created = p.project_created();
    if (created.repository().has_gerrit()) {
      bind(created.project_id(), created.repository().gerrit());
    } else {
      unbind(created.project_id());
    }
  } else if (p.has_repository_bound()) {
    const auto& bound = p.repository_bound();
    if (bound.repository().has_gerrit()) {
      bind(bound.project_id(), bound.repository().gerrit());
    } else {
      unbind(bound.project_id());
    }
  }
}

void BindingSet::bind(const std::string& project_id, const wharf::v1::GerritSource& source) {
  std::lock_guard lock(mutex_);
  by_project_id_[project_id] = source;
}

void BindingSet::unbind(const std::string& project_id) {
  std::lock_guard lock(mutex_);
  by_project_id_.erase(project_id);
}

size_t BindingSet::size() const {
  std::lock_guard lock(mutex_);
  return by_project_id_.size();
}

std::vector<std::string> BindingSet::hosts() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [id, source] : by_project_id_) {
    if (std::find(out.begin(), out.end(), source.host()) == out.end()) out.push_back(source.host());
  }
  return out;
}

std::vector<ProjectBinding> BindingSet::match(const std::string& host,
                                              const std::string& gerrit_project,
                                              const std::string& branch) const {
  std::vector<ProjectBinding> out;
  std::lock_guard lock(mutex_);
  for (const auto& [project_id, source] : by_project_id_) {
    if (source.project() != gerrit_project || !host_matches(source.host(), host)) continue;
    bool branch_ok = source.branches().empty();
    for (const std::string& pattern : source.branches()) {
      if (glob_match(pattern, branch)) {
        branch_ok = true;
        break;
      }
    }
    if (branch_ok) out.push_back({project_id, source});
  }
  return out;
}

}  // namespace wharf::gerrit

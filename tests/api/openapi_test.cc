// docs/openapi.yaml and the router must list the same routes: a route added
// to one and not the other fails here.
#include <fstream>
#include <regex>
#include <set>

#include "tests/api/api_test_support.h"
#include "tests/test_paths.h"

namespace wharf::api::testing {
namespace {

// (METHOD, path) pairs under `paths:` - two-space-indented path keys, four-space
// method keys. Simple on purpose: the spec keeps that layout.
std::set<std::pair<std::string, std::string>> spec_routes(const std::string& file) {
  std::ifstream in(file);
  EXPECT_TRUE(in.good()) << "cannot read " << file;
  std::set<std::pair<std::string, std::string>> routes;
  const std::regex path_line(R"(^  (/[^:\s]*):\s*$)");
  const std::regex method_line(R"(^    (get|put|post|delete|patch):\s*$)");
  std::string line;
  std::string path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ') in_paths = line.rfind("paths:", 0) == 0;
    if (!in_paths) continue;
    std::smatch m;
    if (std::regex_match(line, m, path_line)) {
      path = m[1];
    } else if (!path.empty() && std::regex_match(line, m, method_line)) {
      std::string method = m[1];
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      routes.insert({method, path});
    }
  }
  return routes;
}

TEST(OpenApiTest, SpecAndRouterListTheSameRoutes) {
  ApiHarness h;  // every dependency present: the full route set
  std::set<std::pair<std::string, std::string>> server;
  for (const auto& r : h.server().app().routes()) server.insert({r.method, r.pattern});
  const auto spec = spec_routes(WHARF_OPENAPI_YAML);
  ASSERT_GT(spec.size(), 10u);
  for (const auto& r : server) {
    EXPECT_TRUE(spec.count(r)) << r.first << " " << r.second
                               << " is served but not in openapi.yaml";
  }
  for (const auto& r : spec) {
    EXPECT_TRUE(server.count(r)) << r.first << " " << r.second
                                 << " is in openapi.yaml but not served";
  }
}

}  // namespace
}  // namespace wharf::api::testing

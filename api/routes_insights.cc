// Release insights (docs/insights.md): what runs where (GET /api/v1/landscape)
// and the four delivery metrics (GET /api/v1/insights), over the projects the
// caller may see.
#include "api/api_error.h"
#include "api/resource_support.h"
#include "projections/insights_queries.h"
#include "projections/time_format.h"

namespace wharf::api {

namespace json = boost::json;
namespace insights = projections::insights;

namespace {

constexpr int64_t kMaxBuckets = 1000;

int64_t time_param(const Context& ctx, const std::string& name, int64_t fallback) {
  auto text = ctx.query_value(name);
  if (!text || text->empty()) return fallback;
  auto us = projections::parse_rfc3339(*text);
  if (!us) {
    throw bad_request("wrong_type", "query parameter \"" + name + "\" must be an RFC 3339 time",
                      json::object{{"field", name}, {"expected", "RFC 3339 time"}});
  }
  return *us;
}

// Projects the caller holds at least a viewer's role on; null for an admin
// (every project: the answers over all projects then read the totals across
// projects instead of summing every group).
std::function<bool(const std::string&)> visible(Context& ctx) {
  if (ctx.principal.admin) return nullptr;
  auto& access = ctx.app.access();
  access.refresh();
  const Principal who = ctx.principal;
  return [&access, who](const std::string& project) {
    return access.allows(who, project, wharf::v1::ROLE_VIEWER);
  };
}

Reply landscape(Context& ctx) {
  projections::LandscapeFilter filter;
  filter.visible = visible(ctx);
  filter.project = ctx.query_value("project").value_or("");
  filter.environment = ctx.query_value("environment").value_or("");
  filter.limit = page_limit(ctx, ctx.app.config().default_page);
  filter.after = ctx.query_uint("cursor").value_or(0);
  return view_reply(
      ctx, value_or_throw(
               projections::InsightsQueries(queries(ctx)).landscape(filter, query_options(ctx))));
}

Reply insights_report(Context& ctx) {
  projections::InsightsFilter filter;
  filter.project = ctx.query_value("project").value_or("");
  if (!filter.project.empty()) ctx.require(filter.project, wharf::v1::ROLE_VIEWER);
  filter.visible = visible(ctx);
  filter.environment = ctx.query_value("environment").value_or("");
  filter.to_us = time_param(ctx, "to", ctx.app.now_us());
  filter.from_us = time_param(ctx, "from", filter.to_us - insights::kDefaultRangeUs);
  if (filter.to_us <= filter.from_us) {
    throw bad_request("invalid_value", "\"to\" must be after \"from\"",
                      json::object{{"field", "to"}});
  }
  const auto bucket_text = ctx.query_value("bucket").value_or("week");
  auto bucket = insights::parse_bucket(bucket_text);
  if (!bucket) {
    throw bad_request("invalid_enum", "query parameter \"bucket\" must be none, day, week or month",
                      json::object{{"field", "bucket"},
                                   {"value", bucket_text},
                                   {"allowed", json::array{"none", "day", "week", "month"}}});
  }
  filter.bucket = *bucket;
  const int64_t bucket_us = filter.bucket == insights::Bucket::kDay    ? insights::kDayUs
                            : filter.bucket == insights::Bucket::kWeek ? 7 * insights::kDayUs
                                                                       : 28 * insights::kDayUs;
  if (filter.bucket != insights::Bucket::kNone &&
      (filter.to_us - filter.from_us) / bucket_us > kMaxBuckets) {
    throw bad_request("invalid_value",
                      "the range holds more than 1000 buckets; use a larger bucket",
                      json::object{{"field", "bucket"}, {"max_buckets", kMaxBuckets}});
  }
  const auto detail = ctx.query_value("detail").value_or("false");
  if (detail != "true" && detail != "false") {
    throw bad_request("invalid_enum", "query parameter \"detail\" must be true or false",
                      json::object{{"field", "detail"}, {"value", detail}});
  }
  filter.detail = detail == "true";
  filter.page.limit = page_limit(ctx, ctx.app.config().default_page);
  if (auto cursor = ctx.query_value("cursor");
      cursor && !cursor->empty() && !insights::decode_group_cursor(*cursor, &filter.page)) {
    throw bad_request("invalid_value", "query parameter \"cursor\" is not a cursor of this list",
                      json::object{{"field", "cursor"}});
  }
  return view_reply(
      ctx, value_or_throw(
               projections::InsightsQueries(queries(ctx)).insights(filter, query_options(ctx))));
}

}  // namespace

void add_insights_routes(App& app) {
  app.add(http::verb::get, "/api/v1/landscape", Access::kAuthenticated, landscape);
  app.add(http::verb::get, "/api/v1/insights", Access::kAuthenticated, insights_report);
}

}  // namespace wharf::api

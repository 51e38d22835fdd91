// `wharf token create`: issues an API token by appending TokenIssued to the
// store in --data (run it while `wharf serve` is stopped, or use
// POST /api/v1/tokens against a running server). The token is printed once.
#include <iostream>
#include <stdexcept>

#include "api/tokens.h"
#include "cli/commands.h"
#include "events/event_store.h"

namespace wharf::cli {

namespace {

struct TokenCreateOptions {
  std::string user;
  bool admin = false;
  std::string expires_in;
};

void create_token(const TokenCreateOptions& options) {
  int64_t expires_at = 0;
  const int64_t now = api::now_us();
  if (!options.expires_in.empty()) {
    auto us = api::parse_duration_us(options.expires_in);
    if (!us) throw std::runtime_error("--expires-in must look like 30d, 12h, 45m or 90s");
    expires_at = now + *us;
  }
  const auto& data = global_options().data_dir;
  auto store = events::EventStore::open(store_dir(data));
  if (!store) throw std::runtime_error("cannot open store at " + data + ": " + store.error().message);
  wharf::v1::Actor actor;
  actor.set_id("cli");
  actor.set_channel(wharf::v1::CHANNEL_CLI);
  auto issued = api::issue_token(**store, options.user, options.admin, expires_at, actor, now);
  (*store)->close();
  if (!issued) throw std::runtime_error("cannot issue token: " + issued.error().message);
  std::cerr << "token " << issued->token_id << " for user " << issued->user
            << (issued->admin ? " (admin)" : "")
            << (expires_at != 0 ? ", expires in " + options.expires_in : ", never expires")
            << "; it is shown only now:\n";
  std::cout << issued->token << std::endl;
}

}  // namespace

void register_access_commands(CLI::App& app) {
  auto& token = group(app, "token", "API tokens (bearer tokens for the HTTP API)");
  auto options = std::make_shared<TokenCreateOptions>();
  CLI::App* create = token.add_subcommand(
      "create",
      "Create an API token for a user and print it once (only its SHA-256 is stored).\n"
      "Roles per project come from permission grants; --admin may do everything.");
  add_data_option(*create);
  create->add_option("--user", options->user, "user the token acts as")->required();
  create->add_flag("--admin", options->admin, "the token's user is an administrator");
  create->add_option("--expires-in", options->expires_in,
                     "lifetime such as 30d, 12h, 45m, 90s (default: never expires)");
  create->callback([options] { create_token(*options); });
}

}  // namespace wharf::cli

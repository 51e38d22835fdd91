// `wharf token create|revoke`: issues an API token by appending TokenIssued
// (or revokes one by appending TokenRevoked) to the store in --data; run it
// while `wharf serve` is stopped, or use POST /api/v1/tokens and
// /api/v1/tokens/{id}/revoke against a running server. A token is printed once.
#include <iostream>
#include <stdexcept>

#include "api/access_index.h"
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
  if (!store)
    throw std::runtime_error("cannot open store at " + data + ": " + store.error().message);
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

struct TokenRevokeOptions {
  std::string token_id;
  std::string reason;
};

void revoke_api_token(const TokenRevokeOptions& options) {
  const auto& data = global_options().data_dir;
  auto store = events::EventStore::open(store_dir(data));
  if (!store)
    throw std::runtime_error("cannot open store at " + data + ": " + store.error().message);
  api::AccessIndex access(**store);
  access.refresh();
  auto record = access.token(options.token_id);
  if (!record) {
    (*store)->close();
    throw std::runtime_error("no token \"" + options.token_id +
                             "\" in this store (the id is the token_id `token create` printed, "
                             "not the secret)");
  }
  if (record->revoked) {
    (*store)->close();
    std::cerr << "token " << options.token_id << " of user " << record->user
              << " was already revoked; nothing appended\n";
    return;
  }
  wharf::v1::Actor actor;
  actor.set_id("cli");
  actor.set_channel(wharf::v1::CHANNEL_CLI);
  auto revoked = api::revoke_token(**store, options.token_id, options.reason, actor, api::now_us());
  (*store)->close();
  if (!revoked) throw std::runtime_error("cannot revoke token: " + revoked.error().message);
  std::cerr << "token " << options.token_id << " of user " << record->user
            << " revoked at position " << *revoked << "; it is refused from now on\n";
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

  auto revoke_options = std::make_shared<TokenRevokeOptions>();
  CLI::App* revoke = token.add_subcommand(
      "revoke",
      "Revoke an API token by its token_id: appends TokenRevoked to the store in --data\n"
      "(with the server stopped; against a running one use POST /api/v1/tokens/{id}/revoke).\n"
      "The token is refused from then on.");
  add_data_option(*revoke);
  revoke->add_option("--id", revoke_options->token_id, "the token_id (not the secret)")->required();
  revoke->add_option("--reason", revoke_options->reason, "why, kept in the event");
  revoke->callback([revoke_options] { revoke_api_token(*revoke_options); });
}

}  // namespace wharf::cli

#include "engine/engine.h"

#include "engine/ids.h"

namespace wharf::engine {
namespace {

using Code = Rejection::Code;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

const std::string& payload_type_name(const wharf::v1::Payload& payload) {
  static const std::string kNone;
  if (payload.kind_case() == wharf::v1::Payload::KIND_NOT_SET) return kNone;
  return payload.GetDescriptor()->FindFieldByNumber(payload.kind_case())->message_type()->name();
}

}  // namespace

std::string project_stream(std::string_view project_id) {
  return std::string("project-").append(project_id);
}
std::string run_stream(std::string_view run_id) { return std::string("run-").append(run_id); }
std::string environment_stream(std::string_view project_id, std::string_view environment) {
  return std::string("env-").append(project_id).append("-").append(environment);
}
std::string access_stream(std::string_view project_id) {
  return std::string("access-").append(project_id);
}

std::string target_stream(std::string_view name) {
  return std::string("target-").append(name);
}

StreamKind stream_kind(std::string_view stream_id) {
  if (starts_with(stream_id, "project-")) return StreamKind::kProject;
  if (starts_with(stream_id, "run-")) return StreamKind::kRun;
  if (starts_with(stream_id, "env-")) return StreamKind::kEnvironment;
  if (starts_with(stream_id, "access-")) return StreamKind::kAccess;
  if (starts_with(stream_id, "target-")) return StreamKind::kTarget;
  return StreamKind::kUnknown;
}

std::string run_id_of(const ObserveCommit& c) {
  if (!c.run_id.empty()) return c.run_id;
  std::string dedup = c.dedup_key.empty() ? c.source + ":" + c.commit_sha : c.dedup_key;
  return short_id("r", c.project_id + "/" + dedup);
}

std::string stream_of(const Command& command) {
  return std::visit(
      Overloaded{
          [](const CreateProject& c) { return project_stream(c.project_id); },
          [](const BindRepository& c) { return project_stream(c.project_id); },
          [](const DefineEnvironment& c) { return project_stream(c.project_id); },
          [](const UpdatePipelineTemplate& c) { return project_stream(c.project_id); },
          [](const ObserveCommit& c) { return run_stream(run_id_of(c)); },
          [](const RequestBuild& c) { return run_stream(c.run_id); },
          [](const RecordBuildProgress& c) { return run_stream(c.run_id); },
          [](const RecordBuildResult& c) { return run_stream(c.run_id); },
          [](const RunTests& c) { return run_stream(c.run_id); },
          [](const RecordTestResult& c) { return run_stream(c.run_id); },
          [](const Approve& c) { return run_stream(c.run_id); },
          [](const CancelRun& c) { return run_stream(c.run_id); },
          [](const RetryStep& c) { return run_stream(c.run_id); },
          [](const RecordStageDeployResult& c) { return run_stream(c.run_id); },
          [](const ExpireTimer& c) {
            return c.step == wharf::v1::STEP_KIND_DEPLOY || c.step == wharf::v1::STEP_KIND_CANARY
                       ? environment_stream(c.project_id, c.environment)
                       : run_stream(c.run_id);
          },
          [](const RequestDeploy& c) { return environment_stream(c.project_id, c.environment); },
          [](const RecordDeployProgress& c) {
            return environment_stream(c.project_id, c.environment);
          },
          [](const RecordDeployResult& c) {
            return environment_stream(c.project_id, c.environment);
          },
          [](const CancelDeploy& c) { return environment_stream(c.project_id, c.environment); },
          [](const RequestRollback& c) { return environment_stream(c.project_id, c.environment); },
          [](const RequestPermission& c) { return access_stream(c.project_id); },
          [](const GrantPermission& c) { return access_stream(c.project_id); },
          [](const DenyPermission& c) { return access_stream(c.project_id); },
          [](const RevokePermission& c) { return access_stream(c.project_id); },
          [](const ObserveHealth& c) { return environment_stream(c.project_id, c.environment); },
          [](const RequestTestCases& c) { return environment_stream(c.project_id, c.environment); },
          [](const RecordTestCaseResults& c) { return environment_stream(c.project_id, c.environment); },
          [](const OpenServiceLogs& c) { return environment_stream(c.project_id, c.environment); },
          [](const OpenTerminal& c) { return environment_stream(c.project_id, c.environment); },
          [](const CloseTerminal& c) { return environment_stream(c.project_id, c.environment); },
          [](const PromoteCanary& c) { return environment_stream(c.project_id, c.environment); },
          [](const AbortCanary& c) { return environment_stream(c.project_id, c.environment); },
          [](const RecordDubboRule& c) {
            return environment_stream(c.project_id, c.environment);
          },
          [](const RegisterTarget& c) { return target_stream(c.spec.name()); },
          [](const UpdateTarget& c) { return target_stream(c.spec.name()); },
          [](const RotateTargetCredentials& c) { return target_stream(c.name); },
          [](const RemoveTarget& c) { return target_stream(c.name); },
          [](const ObserveTargetHealth& c) { return target_stream(c.name); },
      },
      command);
}

std::string reads_of(const Command& command) {
  if (const auto* c = std::get_if<ObserveCommit>(&command)) return project_stream(c->project_id);
  if (const auto* c = std::get_if<RequestDeploy>(&command)) {
    if (c->run_id.empty()) return project_stream(c->project_id);
  }
  if (const auto* c = std::get_if<RequestTestCases>(&command)) return project_stream(c->project_id);
  return "";
}

std::string target_event_of(const Command& command) {
  if (const auto* c = std::get_if<RequestRollback>(&command)) return c->target_deploy_event_id;
  return "";
}

StreamState::StreamState(std::string stream_id) : stream_id_(std::move(stream_id)) {
  switch (stream_kind(stream_id_)) {
    case StreamKind::kProject: state_.emplace<ProjectState>(); break;
    case StreamKind::kRun: state_.emplace<RunState>(); break;
    case StreamKind::kEnvironment: state_.emplace<EnvironmentState>(); break;
    case StreamKind::kAccess: state_.emplace<AccessState>(); break;
    case StreamKind::kTarget: state_.emplace<TargetState>(); break;
    case StreamKind::kUnknown: break;
  }
}

StreamKind StreamState::kind() const { return stream_kind(stream_id_); }

void StreamState::apply(const Envelope& event) {
  version_ = event.stream_version() != 0 ? event.stream_version() : version_ + 1;
  std::visit(Overloaded{[](std::monostate&) {}, [&](auto& s) { engine::apply(s, event); }},
             state_);
}

StreamState fold(const std::string& stream_id, const std::vector<Envelope>& history) {
  StreamState state(stream_id);
  for (const auto& e : history) state.apply(e);
  return state;
}

Expected<std::vector<Envelope>, Rejection> decide(const StreamState& own, const Command& command,
                                                  const Context& context,
                                                  const Lookups& lookups) {
  if (context.command_id.empty()) {
    return unexpected(Rejection{Code::kInvalidArgument, "the command has no command id"});
  }
  if (const auto* timer = std::get_if<ExpireTimer>(&command);
      timer != nullptr && timer->step == wharf::v1::STEP_KIND_UNSPECIFIED) {
    return unexpected(Rejection{Code::kInvalidArgument, "a timer must name its step kind"});
  }
  const std::string stream = stream_of(command);
  if (stream != own.stream_id()) {
    return unexpected(Rejection{Code::kWrongStream, std::string(command_name(command)) +
                                                        " belongs to stream " + stream +
                                                        ", not " + own.stream_id()});
  }
  Decision decision = reject(Code::kWrongStream, "no aggregate for stream " + stream);
  if (const auto* s = own.project()) {
    decision = decide(*s, command, context);
  } else if (const auto* s = own.run()) {
    decision = decide(*s, command, context, lookups.project);
  } else if (const auto* s = own.environment()) {
    decision = decide(*s, command, context, lookups.project, lookups.target_event);
  } else if (const auto* s = own.access()) {
    decision = decide(*s, command, context);
  } else if (const auto* s = own.target()) {
    decision = decide(*s, command, context);
  }
  if (!decision) return unexpected(decision.error());

  std::vector<NewEvent>& fresh = decision.value();
  std::vector<Envelope> out(fresh.size());
  for (size_t i = 0; i < fresh.size(); ++i) {
    NewEvent& n = fresh[i];
    Envelope& e = out[i];
    e.set_stream_id(stream);
    e.set_stream_version(own.version() + i + 1);
    e.set_event_id(n.event_id.empty() ? derived_event_id(context.command_id,
                                                         static_cast<uint32_t>(i))
                                      : std::move(n.event_id));
    e.set_type(payload_type_name(n.payload));
    e.set_occurred_at_us(context.now_us);
    *e.mutable_actor() = context.actor;
    e.set_correlation_id(!n.correlation_id.empty()        ? n.correlation_id
                         : !context.correlation_id.empty() ? context.correlation_id
                                                           : context.command_id);
    if (n.caused_by >= 0 && static_cast<size_t>(n.caused_by) < i) {
      e.set_causation_id(out[static_cast<size_t>(n.caused_by)].event_id());
    } else {
      e.set_causation_id(context.causation_id.empty() ? context.command_id
                                                      : context.causation_id);
    }
    e.mutable_payload()->Swap(&n.payload);
  }
  return out;
}

Expected<std::vector<Envelope>, Rejection> handle(const std::vector<Envelope>& stream_history,
                                                  const Command& command, const Context& context,
                                                  const Inputs& inputs) {
  StreamState own = fold(stream_of(command), stream_history);
  Lookups lookups;
  ProjectState project;
  if (!reads_of(command).empty()) {
    for (const auto& e : inputs.project_history) apply(project, e);
    lookups.project = &project;
  }
  if (inputs.target_event) lookups.target_event = &*inputs.target_event;
  return decide(own, command, context, lookups);
}

}  // namespace wharf::engine

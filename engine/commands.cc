#include "engine/commands.h"

namespace wharf::engine {
namespace {

template <typename T>
struct Name;
#define WHARF_COMMAND_NAME(T) \
  template <>                 \
  struct Name<T> {            \
    static constexpr const char* value = #T; \
  };
WHARF_COMMAND_NAME(CreateProject)
WHARF_COMMAND_NAME(BindRepository)
WHARF_COMMAND_NAME(DefineEnvironment)
WHARF_COMMAND_NAME(UpdatePipelineTemplate)
WHARF_COMMAND_NAME(ObserveCommit)
WHARF_COMMAND_NAME(RequestBuild)
WHARF_COMMAND_NAME(RecordBuildProgress)
WHARF_COMMAND_NAME(RecordBuildResult)
WHARF_COMMAND_NAME(RunTests)
WHARF_COMMAND_NAME(RecordTestResult)
WHARF_COMMAND_NAME(Approve)
WHARF_COMMAND_NAME(CancelRun)
WHARF_COMMAND_NAME(RetryStep)
WHARF_COMMAND_NAME(RecordStageDeployResult)
WHARF_COMMAND_NAME(ExpireTimer)
WHARF_COMMAND_NAME(RequestDeploy)
WHARF_COMMAND_NAME(RecordDeployProgress)
WHARF_COMMAND_NAME(RecordDeployResult)
WHARF_COMMAND_NAME(CancelDeploy)
WHARF_COMMAND_NAME(RequestRollback)
WHARF_COMMAND_NAME(RequestPermission)
WHARF_COMMAND_NAME(GrantPermission)
WHARF_COMMAND_NAME(DenyPermission)
WHARF_COMMAND_NAME(RevokePermission)
WHARF_COMMAND_NAME(ObserveHealth)
WHARF_COMMAND_NAME(RequestTestCases)
WHARF_COMMAND_NAME(RecordTestCaseResults)
WHARF_COMMAND_NAME(OpenServiceLogs)
WHARF_COMMAND_NAME(OpenTerminal)
WHARF_COMMAND_NAME(CloseTerminal)
WHARF_COMMAND_NAME(PromoteCanary)
WHARF_COMMAND_NAME(AbortCanary)
WHARF_COMMAND_NAME(RecordDubboRule)
WHARF_COMMAND_NAME(RegisterTarget)
WHARF_COMMAND_NAME(UpdateTarget)
WHARF_COMMAND_NAME(RotateTargetCredentials)
WHARF_COMMAND_NAME(RemoveTarget)
WHARF_COMMAND_NAME(ObserveTargetHealth)
#undef WHARF_COMMAND_NAME

}  // namespace

const char* to_string(Rejection::Code code) {
  switch (code) {
    case Rejection::Code::kNotFound: return "not_found";
    case Rejection::Code::kAlreadyExists: return "already_exists";
    case Rejection::Code::kInvalidArgument: return "invalid_argument";
    case Rejection::Code::kInvalidTransition: return "invalid_transition";
    case Rejection::Code::kStale: return "stale";
    case Rejection::Code::kWrongStream: return "wrong_stream";
  }
  return "unknown";
}

const char* command_name(const Command& command) {
  return std::visit([](const auto& c) { return Name<std::decay_t<decltype(c)>>::value; }, command);
}

}  // namespace wharf::engine

#pragma once
// The engine's port jobs and outcomes as task-topic records and back. Pure
// conversions: what a worker receives is exactly what the process manager
// asked for, and what serve receives is exactly what the runner reported.
#include <string>

#include "engine/ports.h"
#include "wharf/v1/tasks.pb.h"

namespace wharf::workers {

// "build/<key>#<attempt>": one name for a task in logs and maps.
std::string task_name(wharf::v1::TaskKind kind, const std::string& key, uint32_t attempt);
std::string task_name(const wharf::v1::Task& task);
std::string task_name(const wharf::v1::TaskResult& result);

// The Kafka record key: the run id when there is one (so a run's tasks and
// their cancels stay in order on one partition), else the task key.
std::string partition_key(const wharf::v1::Task& task);

wharf::v1::Task to_task(const engine::BuildJob& job);
wharf::v1::Task to_task(const engine::DeployJob& job);
wharf::v1::Task to_task(const engine::TestJob& job);
wharf::v1::Task cancel_task(wharf::v1::TaskKind kind, const std::string& key, uint32_t attempt);

engine::BuildJob build_job(const wharf::v1::Task& task);
engine::DeployJob deploy_job(const wharf::v1::Task& task);
engine::TestJob test_job(const wharf::v1::Task& task);

wharf::v1::TaskProgress to_proto(const engine::StepProgress& progress);
engine::StepProgress from_proto(const wharf::v1::TaskProgress& progress);

wharf::v1::BuildTaskOutcome to_proto(const engine::BuildOutcome& outcome);
wharf::v1::DeployTaskOutcome to_proto(const engine::DeployOutcome& outcome);
wharf::v1::TestTaskOutcome to_proto(const engine::TestOutcome& outcome);
engine::BuildOutcome from_proto(const wharf::v1::BuildTaskOutcome& outcome);
engine::DeployOutcome from_proto(const wharf::v1::DeployTaskOutcome& outcome);
engine::TestOutcome from_proto(const wharf::v1::TestTaskOutcome& outcome);

}  // namespace wharf::workers

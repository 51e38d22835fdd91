// Frames of the live event feed. The Server owns the connections; this part
// decides what each stream shows. Every frame carries `id: <global position>`
// so a reconnecting client resumes with Last-Event-ID and gets neither a gap
// nor a duplicate.
#include <boost/json/serialize.hpp>

#include "api/app.h"
#include "api/event_json.h"

namespace wharf::api {

std::string App::sse_frames(const SseStart& start, uint64_t& cursor, size_t max_events) {
  auto batch = services_.store.read_all(cursor + 1, max_events);
  if (!batch || batch->empty()) return {};
  access_.refresh();  // run -> project of the events just read
  std::string frames;
  for (const auto& event : *batch) {
    cursor = event.position();
    if (!access_.can_see(start.principal, event)) continue;
    if (!start.project.empty() && access_.project_of(event) != start.project) continue;
    if (!start.run.empty() && access_.run_of(event) != start.run) continue;
    frames += "id: " + std::to_string(event.position()) + "\nevent: " + event.type() +
              "\ndata: " + boost::json::serialize(event_json(event)) + "\n\n";
  }
  return frames;
}

}  // namespace wharf::api

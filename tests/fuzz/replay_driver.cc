// Runs a fuzz target without libFuzzer: every file of the seed corpus, then
// deterministic mutations of each (byte flips, truncations, duplications), so
// the GCC build and the sanitizer pass exercise the same entry point.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::vector<std::string> load_corpus(const std::filesystem::path& dir) {
  std::vector<std::string> inputs;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS_PER_INPUT]\n", argv[0]);
    return 2;
  }
  const int mutations = argc > 2 ? std::stoi(argv[2]) : 200;
  const auto corpus = load_corpus(argv[1]);
  if (corpus.empty()) {
    std::fprintf(stderr, "empty corpus: %s\n", argv[1]);
    return 2;
  }
  std::mt19937_64 rng(20261126);
  size_t runs = 0;
  for (const auto& seed : corpus) {
    run(seed);
    ++runs;
    for (int i = 0; i < mutations; ++i) {
      std::string m = seed;
      switch (rng() % 4) {
        case 0:
          if (!m.empty()) m[rng() % m.size()] ^= static_cast<char>(1u << (rng() % 8));
          break;
        case 1:
          m.resize(m.empty() ? 0 : rng() % m.size());
          break;
        case 2:
          m += m.substr(0, m.empty() ? 0 : rng() % m.size());
          break;
        default:
          if (!m.empty()) m[rng() % m.size()] = static_cast<char>(rng() % 256);
          break;
      }
      run(m);
      ++runs;
    }
  }
  std::printf("replayed %zu inputs from %zu seeds\n", runs, corpus.size());
  return 0;
}

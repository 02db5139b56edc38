// Shared pieces of regionchat-cli: argument parsing, model location, loading with progress.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "regionchat/backend.h"
#include "regionchat/engine.h"
#include "regionchat/region_format.h"
#include "regionchat/synth.h"

namespace rc::cli {

/// Thrown for a bad command line; main prints it with the usage hint and exits 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Parsed `--name value` options (repeatable) and `--flag` switches.
struct Args {
    std::map<std::string, std::vector<std::string>> options;
    std::set<std::string> flags;

    bool has(const std::string& name) const { return options.count(name) > 0; }
    /// The last value of an option, or `fallback`.
    std::string get(const std::string& name, const std::string& fallback = {}) const;
    /// The value, or UsageError "--name is required".
    std::string require(const std::string& name) const;
    int get_int(const std::string& name, int fallback, int min, int max) const;
    double get_double(const std::string& name, double fallback, double min, double max) const;
};

/// Parses argv[first..]; `valued` options take a value, `switches` do not. Unknown → UsageError.
Args parse_args(int argc, char** argv, int first, const std::set<std::string>& valued,
                const std::set<std::string>& switches);

/// --model, else $REGIONCHAT_MODEL, else the installed or source-tree embedded model.
std::string resolve_model_dir(const Args& args);

/// Loads the model named by the args (--model, --device, --dtype, --threads); shows a
/// progress line on stderr when it is a terminal.
std::shared_ptr<Model> load_model(const Args& args);

/// "X0,Y0,X1,Y1" in pixels → Box; UsageError when malformed.
Box parse_box(const std::string& text);

/// The boxes of `<region>` placeholders as regions 1..n (clipped to the image; the backend
/// writes them in its model's format); UsageError when the counts do not match or a box
/// lies outside the image.
std::vector<RegionInput> regions_for(const std::string& question, const std::vector<Box>& boxes,
                                     ImageSize size);

/// The regions of `ask`'s command line, numbered 1..n in this order: each --box, each
/// --points "X,Y X,Y ..." (clicked points, in order), each --scribble "X,Y X,Y ..." (a stroke),
/// each --mask FILE (non-zero pixels; the image's size). A value ending in "@K" is on the K-th
/// --image (1-based; the first without). One per `<region>` placeholder; UsageError when the
/// counts differ or a region is empty or outside its image.
std::vector<RegionInput> regions_from_args(const Args& args, const std::string& question,
                                           const std::vector<ImageSize>& sizes);

/// The API key for a server: --api-key, else $REGIONCHAT_API_KEY, else "".
std::string api_key_from_args(const Args& args);

/// Sampling options (--temperature, --top-p, --seed) and --max-new-tokens.
GenerateParams generate_params(const Args& args);

/// Synthetic-scene options from --renderer train|alternate, --max-objects N and --no-augment.
synth::SceneOptions scene_options(const Args& args);

double now_ms();

/// Median of the values (0 for none).
double median(std::vector<double> v);

/// Writes "[#####.....] done/total  N ms/case  ETA 1m05s" to stderr: redrawn in place on a
/// terminal, else one line every 10 cases and at the end.
void print_progress(size_t done, size_t total, double start_ms, bool tty);

}  // namespace rc::cli

// The subcommands of regionchat-cli; each returns the process exit code.
#pragma once

namespace rc::cli {

int run_ask(int argc, char** argv);
int run_batch(int argc, char** argv);
int run_export_synth(int argc, char** argv);
int run_eval_synth(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_speed(int argc, char** argv);
int run_sam_bench(int argc, char** argv);
int run_serve(int argc, char** argv);  // these two only with cpp-httplib (REGIONCHAT_HAS_REMOTE)
int run_serve_bench(int argc, char** argv);

}  // namespace rc::cli

// A remote model behind the chat-backend seam: any OpenAI-compatible chat-completions server
// (vLLM, SGLang, LMDeploy, llama.cpp's server, Ollama, transformers serve, regionchat-cli
// serve). HTTP through cpp-httplib (Debian's libcpp-httplib-dev, with OpenSSL): core stays
// free of Qt, so the CLI, the app and the tests use the same client.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "regionchat/backend.h"

namespace rc {

struct RemoteOptions {
    /// "http://127.0.0.1:8080", "https://host/v1": "/v1" is added when the path lacks it.
    std::string url;
    std::string api_key;  ///< sent as "Authorization: Bearer ..."; never logged
    std::string model;    ///< the server's model id ("" : the first of GET /v1/models)
    /// The region/grounding format the model reads and writes ("" : guessed from the model's
    /// name, guess_region_format).
    std::string region_format;
    double connect_timeout_s = 10;
    double first_token_timeout_s = 300;  ///< from the request to the first streamed byte
    double token_timeout_s = 60;         ///< between streamed chunks
    std::string ca_file;                 ///< extra CA bundle for TLS ("" : the system's)
    /// Resize/pad images before upload as the region format's model family expects
    /// (prepare_upload_image); off: the images go as they are.
    bool client_resize = true;
    /// A JSON object whose fields are added to every chat request: a server's own options
    /// (llama.cpp's {"repeat_penalty": 1.0}, vLLM's {"repetition_penalty": 1.0}); "" : none.
    /// rc::Error when it is not an object.
    std::string extra_body;
    /// How answers are scored (DualFocus' perplexity choice): "" decides from the model list
    /// (RegionChat's extension -> "regionchat", vLLM (owned_by "vllm") -> "prompt_logprobs",
    /// else "none"); or one of those three names.
    std::string scoring;
};

/// The image as it is uploaded for a model whose regions are in `region_format`, so that the
/// server's own resize changes nothing and the boxes it answers map back exactly:
///   "dualfocus" (LLaVA-1.5, DualFocus)  centred on a square of CLIP's mean colour (expand2square)
///   "qwen2-vl", "qwen2.5-vl"            resized to Qwen's smart_resize size (multiples of 28)
///   "qwen3-vl"                          the same with Qwen3-VL's factor 32 and pixel limits
///   "internvl", "pink"                  as it is (the server tiles or stretches it)
///   "pixels"                            as it is (boxes are pixels of the image sent)
/// and, but for "pixels", scaled down (Pillow bicubic) to at most `max_pixels`.
cv::Mat prepare_upload_image(const cv::Mat& image, const std::string& region_format,
                             int64_t max_pixels = 12845056);

/// The models a server lists (GET /v1/models). Throws rc::Error with the server's message.
std::vector<std::string> list_remote_models(const RemoteOptions& options);

/// A backend that keeps the conversation on this side and sends it whole with each question
/// (images as PNG data URLs, regions written in the model's format or drawn as visual
/// prompts). Answers stream; Stop closes the connection (the server stops generating).
/// Answer scoring (DualFocus' perplexity choice) works where the server's model list offers
/// RegionChat's extension ("regionchat": {"answer_scoring": true}, POST /v1/regionchat/score:
/// regionchat-cli serve); elsewhere info().capabilities.answer_scoring is false and DualFocus
/// shows both answers. Throws rc::Error for a bad URL or an unknown format.
std::unique_ptr<ChatBackend> make_remote_backend(const RemoteOptions& options);

/// "data:image/png;base64,..." of an 8-bit image (BGR or gray), as chat requests carry it.
std::string image_data_url(const cv::Mat& image);
/// The image in a data URL (PNG, JPEG, WebP, BMP); rc::Error when it is not one or does not
/// decode, or is larger than `max_pixels`.
cv::Mat decode_data_url(const std::string& url, int64_t max_pixels);

}  // namespace rc

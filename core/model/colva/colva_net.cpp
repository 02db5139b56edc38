// The network the engine drives for InternVL2 / CoLVA (model/colva/colva.h).
#include <opencv2/imgproc.hpp>

#include "model/colva/colva.h"
#include "model/colva/radio.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/tiling.h"

namespace rc {

InternVlNetwork::InternVlNetwork(InternVlNet net, const ColvaConfig& c, torch::Device device,
                                 torch::Dtype dtype)
    : LlamaBackedNetwork(net.ptr(), net->language_model, device, dtype),
      net_(std::move(net)),
      max_tiles_(c.max_tiles),
      tile_(c.tile),
      thumbnail_(c.thumbnail) {}

torch::Tensor InternVlNetwork::tiles(const cv::Mat& image) const {
    const cv::Mat bgr = to_bgr8(image);
    if (bgr.empty()) throw Error("empty image");
    // load_image: RGB, ToTensor, Normalize(IMAGENET_MEAN, IMAGENET_STD) per tile.
    std::vector<torch::Tensor> out;
    for (const cv::Mat& t : internvl_tiles(bgr, max_tiles_, thumbnail_, tile_)) {
        cv::Mat rgb, f;
        cv::cvtColor(t, rgb, cv::COLOR_BGR2RGB);
        rgb.convertTo(f, CV_32FC3, 1.0 / 255.0);
        out.push_back(torch::from_blob(f.data, {tile_, tile_, 3}, torch::kFloat32).permute({2, 0, 1}).clone());
    }
    const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
    const auto stdv = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
    return ((torch::stack(out) - mean) / stdv).contiguous();
}

torch::Tensor InternVlNetwork::encode_image(const cv::Mat& bgr) {
    torch::NoGradGuard no_grad;
    return net_->image_rows(tiles(bgr).to(device_, dtype_));
}

torch::Tensor InternVlNetwork::encode_regions(const cv::Mat& bgr, const std::vector<cv::Mat>& masks) {
    torch::NoGradGuard no_grad;
    if (!net_->object_tokenizer)
        throw Error("this InternVL2 model has no region tokens (CoLVA's RADIO and ot_mlp1 are "
                    "not in its checkpoint)");
    const RadioConfig& r = net_->config.radio;
    for (const cv::Mat& m : masks)
        if (m.rows != bgr.rows || m.cols != bgr.cols)
            throw Error("a region mask is not the size of its image");
    auto pixels = colva_radio_pixels(bgr, r.canvas).unsqueeze(0).to(device_, dtype_);
    auto grid = colva_mask_grid(masks, r.canvas, r.grid()).to(device_);
    return net_->region_rows(pixels, grid);
}

}  // namespace rc

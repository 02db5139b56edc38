// See server_request.h.
#include "remote/server_request.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"
#include "regionchat/remote.h"

namespace rc {

using nlohmann::json;

namespace {

// One chat turn of a request: text with "<image>" markers where its images go.
struct Message {
    std::string role;
    ChatRequest request;
};

Message read_message(const json& m, size_t index, const ServerOptions& o, int* images_seen) {
    const std::string at = "messages[" + std::to_string(index) + "]";
    if (!m.is_object()) bad_request(at + " must be an object", at);
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string()) bad_request(at + ".role must be a string", at + ".role");
    Message out;
    out.role = role->get<std::string>();
    if (out.role != "user" && out.role != "assistant" && out.role != "system")
        bad_request(at + ".role '" + out.role + "' is not user, assistant or system", at + ".role");
    const auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
        if (out.role == "assistant") return out;  // an empty earlier answer
        bad_request(at + ".content is missing", at + ".content");
    }
    if (content->is_string()) {
        out.request.text = content->get<std::string>();
        return out;
    }
    if (!content->is_array()) bad_request(at + ".content must be a string or an array of parts", at);
    for (size_t k = 0; k < content->size(); ++k) {
        const json& part = (*content)[k];
        const std::string where = at + ".content[" + std::to_string(k) + "]";
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
            bad_request(where + " must be an object with a type", where);
        const std::string type = part["type"];
        if (type == "text") {
            if (!part.contains("text") || !part["text"].is_string())
                bad_request(where + ".text must be a string", where);
            out.request.text += part["text"].get<std::string>();
        } else if (type == "image_url") {
            if (out.role != "user") bad_request(where + ": only user messages may carry images", where);
            const json* url = nullptr;
            if (part.contains("image_url")) {
                const json& iu = part["image_url"];
                if (iu.is_string()) url = &iu;
                else if (iu.is_object() && iu.contains("url") && iu["url"].is_string()) url = &iu["url"];
            }
            if (!url) bad_request(where + ".image_url.url must be a string", where);
            if (++*images_seen > o.max_images)
                bad_request("more than " + std::to_string(o.max_images) + " images in one request", where);
            const std::string u = url->get<std::string>();
            if (u.rfind("data:", 0) != 0)
                bad_request(where + ": only data: URLs are accepted (this server fetches nothing)", where);
            try {
                out.request.images.push_back(decode_data_url(u, o.max_image_pixels));
            } catch (const Error& e) {
                bad_request(where + ": " + e.what(), where);
            }
            out.request.text += "<image>\n";
        } else {
            bad_request(where + ".type '" + type + "' is not supported (text, image_url)", where);
        }
    }
    return out;
}

// `polygons` gets each region's polygon (empty when it has none), filled once the images are
// known.
std::vector<RegionInput> read_regions(const json& body, std::vector<std::vector<Point>>* polygons) {
    std::vector<RegionInput> regions;
    const auto it = body.find("regions");
    if (it == body.end() || it->is_null()) return regions;
    if (!it->is_array()) bad_request("regions must be an array", "regions");
    for (size_t k = 0; k < it->size(); ++k) {
        const json& r = (*it)[k];
        const std::string where = "regions[" + std::to_string(k) + "]";
        const bool has_points = r.is_object() && r.contains("points");
        const bool has_polygon = r.is_object() && r.contains("polygon") && !r["polygon"].is_null();
        if (!r.is_object() || !r.contains("id") || !r["id"].is_number_integer() ||
            (!has_points && !has_polygon &&
             (!r.contains("box") || !r["box"].is_array() || r["box"].size() != 4)))
            bad_request(where + " must be {\"id\": N, \"box\": [x0, y0, x1, y1]}, {\"id\": N, "
                        "\"points\": [[x, y], ...], \"scribble\": false} or {\"id\": N, "
                        "\"polygon\": [[x, y], ...]} (each with an optional \"image\": K)",
                where);
        RegionInput in;
        in.id = r["id"].get<int>();
        std::vector<Point> polygon;
        // RegionChat's extension for models that read regions on several images (CoLVA):
        // which image of the last user message the region is on (0-based), and a polygon
        // [[x, y], ...] filled as its mask.
        if (const auto im = r.find("image"); im != r.end() && !im->is_null()) {
            if (!im->is_number_integer() || im->get<int64_t>() < 0 || im->get<int64_t>() > 1000)
                bad_request(where + ".image must be the index of an image of the last user message", where);
            in.image = int(im->get<int64_t>());
        }
        if (const auto pg = r.find("polygon"); pg != r.end() && !pg->is_null()) {
            if (!pg->is_array() || pg->size() < 3 || pg->size() > 10000)
                bad_request(where + ".polygon must be 3 to 10000 [x, y] pairs", where);
            for (const json& p : *pg) {
                if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number() ||
                    !std::isfinite(p[0].get<double>()) || !std::isfinite(p[1].get<double>()))
                    bad_request(where + ".polygon must hold [x, y] pairs of finite numbers", where);
                polygon.push_back({p[0].get<double>(), p[1].get<double>()});
            }
        }
        polygons->push_back(polygon);
        if (has_points) {  // clicked points in order, or a scribble's stroke (RegionVLM)
            const json& pts = r["points"];
            if (!pts.is_array() || pts.empty() || pts.size() > 10000)
                bad_request(where + ".points must be 1 to 10000 [x, y] pairs", where);
            for (const json& p : pts) {
                if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number() ||
                    !std::isfinite(p[0].get<double>()) || !std::isfinite(p[1].get<double>()))
                    bad_request(where + ".points must hold [x, y] pairs of finite numbers", where);
                in.points.push_back({p[0].get<double>(), p[1].get<double>()});
            }
            const auto sc = r.find("scribble");
            if (sc != r.end() && !sc->is_boolean()) bad_request(where + ".scribble must be true or false", where);
            in.scribble = sc != r.end() && sc->get<bool>();
            Box b{in.points[0].x, in.points[0].y, in.points[0].x + 1, in.points[0].y + 1};
            for (const Point& p : in.points) {
                b.x0 = std::min(b.x0, p.x);
                b.y0 = std::min(b.y0, p.y);
                b.x1 = std::max(b.x1, p.x + 1);
                b.y1 = std::max(b.y1, p.y + 1);
            }
            in.box = b;
            regions.push_back(in);
            continue;
        }
        if (!polygon.empty() && !r.contains("box")) {  // the box comes from the filled polygon
            regions.push_back(in);
            continue;
        }
        double v[4];
        for (int i = 0; i < 4; ++i) {
            if (!r["box"][i].is_number()) bad_request(where + ".box must hold four numbers", where);
            v[i] = r["box"][i].get<double>();
            if (!std::isfinite(v[i])) bad_request(where + ".box must hold finite numbers", where);
        }
        in.box = Box{v[0], v[1], v[2], v[3]}.normalized();
        regions.push_back(in);
    }
    return regions;
}

int read_int(const json& body, const char* key, int fallback, int lo, int hi) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) bad_request(std::string(key) + " must be an integer", key);
    const int64_t v = it->get<int64_t>();
    if (v < lo || v > hi)
        bad_request(std::string(key) + " must be between " + std::to_string(lo) + " and " +
                std::to_string(hi),
            key);
    return int(v);
}

double read_number(const json& body, const char* key, double fallback, double lo, double hi) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_number()) bad_request(std::string(key) + " must be a number", key);
    const double v = it->get<double>();
    if (!(v >= lo && v <= hi))
        bad_request(std::string(key) + " must be between " + std::to_string(lo) + " and " +
                std::to_string(hi),
            key);
    return v;
}

}  // namespace

ParsedRequest parse_chat_request(const std::string& text, const ServerOptions& o) {
    const json body = json::parse(text, nullptr, false);
    if (body.is_discarded()) bad_request("the body is not valid JSON");
    if (!body.is_object()) bad_request("the body must be a JSON object");
    if (const auto m = body.find("model"); m != body.end() && !m->is_null()) {
        if (!m->is_string()) bad_request("model must be a string", "model");
        if (m->get<std::string>() != o.model_id)
            throw BadRequest{404, "the model '" + m->get<std::string>() + "' does not exist (this server has '" + o.model_id + "')", "invalid_request_error", "model"};
    }
    const auto msgs = body.find("messages");
    if (msgs == body.end() || !msgs->is_array() || msgs->empty())
        bad_request("messages must be a non-empty array", "messages");
    if (msgs->size() > 1000) bad_request("more than 1000 messages", "messages");
    ParsedRequest p;
    int images = 0;
    std::vector<Message> turns;
    for (size_t i = 0; i < msgs->size(); ++i) {
        Message m = read_message((*msgs)[i], i, o, &images);
        if (m.role == "system") continue;  // the model's own template brings its system text
        turns.push_back(std::move(m));
    }
    if (turns.empty() || turns.back().role != "user")
        bad_request("the last message must be from the user", "messages");
    for (size_t i = 0; i + 1 < turns.size(); i += 2) {
        if (turns[i].role != "user" || turns[i + 1].role != "assistant")
            bad_request("messages must alternate user and assistant (after any system message)",
                "messages");
        p.history.emplace_back(std::move(turns[i].request), turns[i + 1].request.text);
    }
    if (turns.size() % 2 == 0) bad_request("messages must alternate user and assistant", "messages");
    p.question = std::move(turns.back().request);
    std::vector<std::vector<Point>> polygons;
    p.question.regions = read_regions(body, &polygons);
    if (!p.question.regions.empty() && p.question.images.empty())
        bad_request("regions need an image in the last user message", "regions");
    for (size_t k = 0; k < p.question.regions.size(); ++k) {
        RegionInput& r = p.question.regions[k];
        if (r.image >= int(p.question.images.size()))
            bad_request("region " + std::to_string(r.id) + " is on image " + std::to_string(r.image) +
                    " but the last user message has " + std::to_string(p.question.images.size()),
                "regions");
        if (!polygons[k].empty()) {  // filled over its image; the box is the polygon's
            const cv::Mat& img = p.question.images[size_t(r.image)];
            std::vector<cv::Point> pts;
            for (const Point& q : polygons[k]) pts.emplace_back(int(std::lround(q.x)), int(std::lround(q.y)));
            r.mask = cv::Mat(img.size(), CV_8UC1, cv::Scalar(0));
            cv::fillPoly(r.mask, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(255));
            const cv::Rect b = cv::boundingRect(pts) & cv::Rect(0, 0, img.cols, img.rows);
            r.box = {double(b.x), double(b.y), double(b.x + b.width), double(b.y + b.height)};
        }
    }
    const int max_tokens = read_int(body, "max_tokens", o.default_max_tokens, 1, o.max_tokens);
    p.generate.max_new_tokens =
        std::min(max_tokens, read_int(body, "max_completion_tokens", max_tokens, 1, o.max_tokens));
    p.generate.sampling.temperature = float(read_number(body, "temperature", 0.0, 0.0, 2.0));
    p.generate.sampling.top_p = float(read_number(body, "top_p", 1.0, 1e-6, 1.0));
    p.generate.sampling.top_k = read_int(body, "top_k", 0, 0, 1 << 20);
    p.generate.sampling.seed = uint64_t(read_int(body, "seed", 0, 0, INT32_MAX));
    // RegionChat's extension: the seed of the points a point-prompt model samples in regions.
    p.question.point_seed = uint32_t(read_int(body, "point_seed", 0, 0, INT32_MAX));
    // num_beams (vLLM's and transformers' name): 1 greedy/sampling; absent, the model's own.
    p.generate.beams.num_beams = read_int(body, "num_beams", 0, 1, 16);
    p.generate.beams.length_penalty = read_number(body, "length_penalty", 1.0, -10.0, 10.0);
    if (const auto s = body.find("stream"); s != body.end() && !s->is_null()) {
        if (!s->is_boolean()) bad_request("stream must be true or false", "stream");
        p.stream = s->get<bool>();
    }
    if (const auto so = body.find("stream_options"); so != body.end() && so->is_object())
        if (const auto u = so->find("include_usage"); u != so->end() && u->is_boolean())
            p.usage = u->get<bool>();
    return p;
}

}  // namespace rc

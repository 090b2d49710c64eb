/* classify_onnx: the facial expression of each image, with a model written by
   `fer export` and nothing of fer: OpenCV's C++ DNN module runs the graph.

     classify_onnx MODEL.onnx IMAGE...

   Each image (PNG, JPEG, ... as OpenCV reads them; any size, colour or grey)
   becomes what the exported graph's raw input takes, as `fer predict` makes it:
   grey, 48x48 by bilinear resize (half-pixel centres) rounded to whole grey
   levels, histogram-equalized when the model's metadata says `equalize: true`,
   as floats 0..255. All images go through the net as one batch N x 1 x 48 x 48;
   the output is N x classes softmax probabilities. Prints a table like
   `fer predict`'s: image, top class, each class's probability.

   The probabilities are `fer predict`'s (within float rounding) for grey
   images and colour JPEGs that are 48x48, upscaled or halved. Two steps here
   may differ from fer's by one grey level in a few pixels: libpng's grey of a
   colour PNG (fer rounds (299 R + 587 G + 114 B) / 1000), and a shrink by
   another factor, where a value half-way between two grey levels is common
   and float rounding in OpenCV's resize and fer's tips it either way.

   The class names and `equalize` are in the ONNX file's metadata_props, which
   cv::dnn does not expose: read_metadata scans the file's top-level protobuf
   fields for them (a few lines here rather than a protobuf dependency).

   Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage. */
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace
{

const int kSide = 48; // the raw input's faces: FER2013's size

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// ---- ONNX metadata_props (ModelProto field 14: key = 1, value = 2) ----------

struct Reader {
    const uint8_t *p, *end;
    uint64_t varint()
    {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p == end)
                throw Failure("truncated protobuf varint");
            uint8_t b = *p++;
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80))
                return v;
        }
        throw Failure("protobuf varint too long");
    }
    Reader bytes(uint64_t n)
    {
        if (n > uint64_t(end - p))
            throw Failure("truncated protobuf field");
        Reader r{p, p + n};
        p += n;
        return r;
    }
    // Skips a field of wire type `wire`; returns its bytes when length-delimited.
    Reader skip(unsigned wire)
    {
        switch (wire) {
        case 0:
            varint();
            return {p, p};
        case 1:
            return bytes(8);
        case 2:
            return bytes(varint());
        case 5:
            return bytes(4);
        default:
            throw Failure("unknown protobuf wire type " + std::to_string(wire));
        }
    }
};

std::map<std::string, std::string> read_metadata(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw Failure(path + ": cannot open");
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::map<std::string, std::string> meta;
    Reader model{data.data(), data.data() + data.size()};
    while (model.p < model.end) {
        uint64_t tag = model.varint();
        Reader field = model.skip(unsigned(tag & 7));
        if (tag >> 3 != 14 || (tag & 7) != 2)
            continue;
        std::string kv[2];
        while (field.p < field.end) {
            uint64_t t = field.varint();
            Reader s = field.skip(unsigned(t & 7));
            if ((t >> 3 == 1 || t >> 3 == 2) && (t & 7) == 2)
                kv[(t >> 3) - 1].assign(reinterpret_cast<const char *>(s.p), size_t(s.end - s.p));
        }
        meta[kv[0]] = kv[1];
    }
    return meta;
}

std::vector<std::string> split_commas(const std::string &s)
{
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');)
        out.push_back(item);
    return out;
}

// ---- images -----------------------------------------------------------------

// An image file as the graph's raw input takes it: grey 48x48, 0..255.
cv::Mat face_input(const std::string &path, bool equalize)
{
    cv::Mat grey = cv::imread(path, cv::IMREAD_GRAYSCALE);
    if (grey.empty())
        throw Failure(path + ": cannot read the image");
    if (grey.rows != kSide || grey.cols != kSide) {
        // In float, then rounded: fer's resize (and so training's) is a float
        // bilinear one; OpenCV's 8-bit path rounds its weights to 11 bits.
        cv::Mat f, small;
        grey.convertTo(f, CV_32F);
        cv::resize(f, small, cv::Size(kSide, kSide), 0, 0, cv::INTER_LINEAR);
        small.convertTo(grey, CV_8U); // rounds half to even, saturates
    }
    if (equalize)
        cv::equalizeHist(grey, grey); // what fer does, bit for bit
    cv::Mat input;
    grey.convertTo(input, CV_32F);
    return input;
}

int top_class(const float *p, int k)
{
    int top = 0;
    for (int j = 1; j < k; j++)
        if (p[j] > p[top])
            top = j;
    return top;
}

int classify(const std::string &model_path, const std::vector<std::string> &images)
{
    std::map<std::string, std::string> meta = read_metadata(model_path);
    if (meta.count("input") && meta["input"] != "raw")
        throw Failure(model_path + ": takes '" + meta["input"] +
                      "' input; export it with `fer export --input raw` (the default)");
    bool equalize = meta["equalize"] == "true";
    std::vector<std::string> names = split_commas(meta["class_names"]);

    cv::dnn::Net net = cv::dnn::readNetFromONNX(model_path);
    std::vector<cv::Mat> faces;
    for (const std::string &path : images)
        faces.push_back(face_input(path, equalize));
    net.setInput(cv::dnn::blobFromImages(faces)); // N x 1 x 48 x 48, float
    cv::Mat probs = net.forward();                // N x classes
    int k = probs.cols;
    if (probs.rows != int(images.size()) || probs.type() != CV_32F)
        throw Failure(model_path + ": unexpected output shape");
    for (int j = int(names.size()); j < k; j++)
        names.push_back("class" + std::to_string(j));

    size_t width = 5;
    for (const std::string &path : images)
        width = std::max(width, path.size());
    std::printf("%-*s  %-9s", int(width), "image", "top");
    for (int j = 0; j < k; j++)
        std::printf(" %8.8s", names[j].c_str());
    std::printf("\n");
    for (size_t i = 0; i < images.size(); i++) {
        const float *p = probs.ptr<float>(int(i));
        std::printf("%-*s  %-9s", int(width), images[i].c_str(), names[top_class(p, k)].c_str());
        for (int j = 0; j < k; j++)
            std::printf(" %8.6f", p[j]);
        std::printf("\n");
    }
    std::printf("(%s; %s)\n", equalize ? "equalized, as the model was trained" : "not equalized",
                meta.count("class_names") ? "class names from the model's metadata"
                                          : "no class names in the model");
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 3 || std::string(argv[1]) == "--help") {
        std::fprintf(argc < 3 ? stderr : stdout, "usage: classify_onnx MODEL.onnx IMAGE...\n");
        return argc < 3 ? 2 : 0;
    }
    // Errors are reported here, one line each; OpenCV's own warnings (an
    // unreadable image) would repeat them.
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    try {
        return classify(argv[1], std::vector<std::string>(argv + 2, argv + argc));
    } catch (const cv::Exception &e) {
        std::fprintf(stderr, "classify_onnx: OpenCV: %s\n", e.msg.c_str());
    } catch (const std::exception &e) {
        std::fprintf(stderr, "classify_onnx: %s\n", e.what());
    }
    return 1;
}

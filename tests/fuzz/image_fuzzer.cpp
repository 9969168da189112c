// Image decoding as a worker runs it (lib/src/jobs/image.cpp: sniffing, the header checks,
// libvips' thumbnail, flattening, metadata stripping, encoding), in-process, with the
// service's default limits (100 megapixels, a 32 MiB body) and a small output box.
// The input's last bytes choose the request (sides, fit, format, quality); the rest is
// the image.
//
// Invariants: the only failure is an image_error of kind unsupported, corrupt or
// too_large (the 415 and 422 answers; anything else would be a 500); an answer has the
// size the request asks for (within the box for "inside", exactly the box for "cover" and
// "fill", the one side given exactly), at most max_pixels, in the format asked for (or the
// input's, PNG for a GIF), and decodes again to that size with no metadata left in it.
#include "fuzz_check.hpp"

#include "steadyloop/jobs/image.hpp"

#include <fuzzer/FuzzedDataProvider.h>
#include <vips/vips.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace jobs = steadyloop::jobs;

namespace {

// service/config.hpp's defaults: --max-image-pixels and --max-image-body.
constexpr std::uint64_t max_image_pixels = 100'000'000;
constexpr std::size_t max_image_body = 32 * 1024 * 1024;
constexpr int max_box = 64;  // small answers keep each run fast

struct unref {
    void operator()(VipsImage* image) const noexcept { g_object_unref(image); }
};

bool starts_with(std::string const& bytes, std::string_view magic)
{
    return bytes.size() >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
}

void check_output(jobs::resize_result const& r, jobs::resize_request const& req, std::optional<jobs::image_format> in)
{
    using jobs::fit_mode;
    FUZZ_CHECK(r.width >= 1 && r.height >= 1);
    FUZZ_CHECK(std::uint64_t(r.width) * std::uint64_t(r.height) <= req.max_pixels);
    if (req.width && req.height) {
        if (req.fit == fit_mode::inside)
            FUZZ_CHECK(r.width <= *req.width && r.height <= *req.height &&
                           (r.width == *req.width || r.height == *req.height),
                       "%dx%d does not fit %dx%d", r.width, r.height, *req.width, *req.height);
        else
            FUZZ_CHECK(r.width == *req.width && r.height == *req.height, "%dx%d is not the box %dx%d", r.width,
                       r.height, *req.width, *req.height);
    } else if (req.width) {
        FUZZ_CHECK(r.width == *req.width, "width %d asked, %d made", *req.width, r.width);
    } else {
        FUZZ_CHECK(r.height == *req.height, "height %d asked, %d made", *req.height, r.height);
    }

    auto const expected = req.format ? *req.format : (*in == jobs::image_format::gif ? jobs::image_format::png : *in);
    FUZZ_CHECK(r.format == expected, "answered %s", std::string(jobs::name(r.format)).c_str());
    switch (r.format) {
    case jobs::image_format::jpeg: FUZZ_CHECK(starts_with(r.bytes, "\xff\xd8\xff")); break;
    case jobs::image_format::png: FUZZ_CHECK(starts_with(r.bytes, "\x89PNG\r\n\x1a\n")); break;
    case jobs::image_format::webp:
        FUZZ_CHECK(starts_with(r.bytes, "RIFF") && r.bytes.size() >= 12 && r.bytes.compare(8, 4, "WEBP") == 0);
        break;
    case jobs::image_format::gif: FUZZ_CHECK(false, "GIF is not an output format");
    }

    // The answer reads back at its size, and carries no metadata.
    std::unique_ptr<VipsImage, unref> back(
        vips_image_new_from_buffer(r.bytes.data(), r.bytes.size(), "", nullptr));
    FUZZ_CHECK(back, "the answer does not decode: %s", vips_error_buffer());
    FUZZ_CHECK(vips_image_get_width(back.get()) == r.width && vips_image_get_height(back.get()) == r.height,
               "the answer decodes as %dx%d, not %dx%d", vips_image_get_width(back.get()),
               vips_image_get_height(back.get()), r.width, r.height);
    for (char const* field : {VIPS_META_EXIF_NAME, VIPS_META_XMP_NAME, VIPS_META_IPTC_NAME, VIPS_META_ICC_NAME})
        FUZZ_CHECK(vips_image_get_typeof(back.get(), field) == 0, "the answer carries %s", field);
    vips_error_clear();
}

std::optional<jobs::image_format> sniffed(std::vector<std::uint8_t> const& bytes)
{
    auto starts = [&](std::string_view m) {
        return bytes.size() >= m.size() && std::memcmp(bytes.data(), m.data(), m.size()) == 0;
    };
    if (starts("\xff\xd8\xff"))
        return jobs::image_format::jpeg;
    if (starts("\x89PNG\r\n\x1a\n"))
        return jobs::image_format::png;
    if (starts("GIF8"))
        return jobs::image_format::gif;
    if (starts("RIFF") && bytes.size() >= 12 && std::memcmp(bytes.data() + 8, "WEBP", 4) == 0)
        return jobs::image_format::webp;
    return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    jobs::init_images();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    if (size > max_image_body)
        return 0;  // the route answers 413 before a worker sees it
    FuzzedDataProvider in(data, size);
    jobs::resize_request req;
    req.max_pixels = max_image_pixels;
    int const sides = in.ConsumeIntegralInRange(0, 2);  // both, width only, height only
    if (sides != 2)
        req.width = in.ConsumeIntegralInRange(1, max_box);
    if (sides != 1)
        req.height = in.ConsumeIntegralInRange(1, max_box);
    req.fit = in.PickValueInArray({jobs::fit_mode::inside, jobs::fit_mode::cover, jobs::fit_mode::fill});
    int const format = in.ConsumeIntegralInRange(0, 3);
    if (format < 3)
        req.format = static_cast<jobs::image_format>(format);  // jpeg, png, webp
    req.quality = in.ConsumeIntegralInRange(1, 100);
    auto image = in.ConsumeRemainingBytes<std::uint8_t>();

    try {
        auto result = jobs::resize_image({reinterpret_cast<std::byte const*>(image.data()), image.size()}, req);
        auto const in_format = sniffed(image);
        FUZZ_CHECK(in_format, "an answer for bytes that are none of JPEG, PNG, GIF, WebP");
        check_output(result, req, in_format);
    } catch (jobs::image_error const& e) {
        FUZZ_CHECK(e.which() != jobs::image_error::kind::bad_request, "a valid request refused: %s", e.what());
        FUZZ_CHECK(std::strlen(e.what()) > 0);
    }
    return 0;
}

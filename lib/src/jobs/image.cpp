#include "steadyloop/jobs/image.hpp"

#include <vips/vips.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

namespace steadyloop::jobs {

namespace {

struct format_names {
    image_format format;
    std::string_view api;
    std::string_view mime;
    char const* loader;  // the libvips nickname of its buffer loader
};

constexpr std::array<format_names, 4> formats{{
    {image_format::jpeg, "jpeg", "image/jpeg", "jpegload_buffer"},
    {image_format::png, "png", "image/png", "pngload_buffer"},
    {image_format::webp, "webp", "image/webp", "webpload_buffer"},
    {image_format::gif, "gif", "image/gif", "gifload_buffer"},
}};

// Loader options for every decode. fail_on=error also stops on truncation (each level
// implies the ones before it). JPEG needs fail_on=warning: libjpeg only *warns* about a
// scan that ends early ("premature end of data segment") and fills the missing rows with
// grey, which would be a half-grey 200. PNG, WebP and GIF report such damage as errors,
// and =warning would refuse PNGs over harmless libpng warnings. Passed as an option
// string because vips_thumbnail_buffer 8.14 accepts its own fail_on argument but never
// hands it to the loader (libvips issue #5195).
char const* load_options(image_format format)
{
    return format == image_format::jpeg ? "fail_on=warning" : "fail_on=error";
}

// A WebP's canvas size, read from its first chunk: libvips' WebP header read allocates a
// canvas-sized buffer, so a 100-byte file claiming 16383x16383 must be refused before
// libvips sees it. nullopt when the bytes are not a WebP header this parser knows.
std::optional<std::pair<std::uint32_t, std::uint32_t>> webp_canvas(std::span<std::byte const> in)
{
    auto u8 = [&](std::size_t i) { return static_cast<std::uint32_t>(in[i]); };
    auto is = [&](std::size_t at, char const* tag) { return std::memcmp(in.data() + at, tag, 4) == 0; };
    if (in.size() < 30 || !is(0, "RIFF") || !is(8, "WEBP"))
        return std::nullopt;
    if (is(12, "VP8X"))  // extended: 24-bit canvas width-1 and height-1
        return std::pair{1 + (u8(24) | u8(25) << 8 | u8(26) << 16), 1 + (u8(27) | u8(28) << 8 | u8(29) << 16)};
    if (is(12, "VP8L") && u8(20) == 0x2f) {  // lossless: 14-bit width-1, height-1
        std::uint32_t bits = u8(21) | u8(22) << 8 | u8(23) << 16 | u8(24) << 24;
        return std::pair{1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)};
    }
    if (is(12, "VP8 ") && u8(23) == 0x9d && u8(24) == 0x01 && u8(25) == 0x2a)  // lossy key frame
        return std::pair{(u8(26) | u8(27) << 8) & 0x3fff, (u8(28) | u8(29) << 8) & 0x3fff};
    return std::nullopt;
}

// Longest side accepted in a header: libvips' own coordinate limit. The pixel count is
// checked separately; this keeps the arithmetic below far from overflow.
constexpr int max_side = VIPS_MAX_COORD;

struct gobject_unref {
    void operator()(gpointer object) const noexcept { g_object_unref(object); }
};
using image_ptr = std::unique_ptr<VipsImage, gobject_unref>;

struct g_free_deleter {
    void operator()(void* memory) const noexcept { g_free(memory); }
};

struct area_unref {
    void operator()(VipsArrayDouble* array) const noexcept { vips_area_unref(VIPS_AREA(array)); }
};

// libvips' error buffer is process-wide: take its text and leave it empty, so the next
// job does not report this one's error.
std::string take_vips_error()
{
    std::string text = vips_error_buffer();
    vips_error_clear();
    // The first line names the failing step; the rest repeats it from the callers' side.
    text.resize(std::min(text.size(), text.find('\n')));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    constexpr std::size_t max_length = 300;  // an error names a step, not a stack of them
    if (text.size() > max_length)
        text.resize(max_length);
    return text;
}

[[noreturn]] void fail(image_error::kind kind, std::string const& what) { throw image_error(kind, what); }

[[noreturn]] void fail_from_vips(image_error::kind kind, std::string_view step)
{
    std::string detail = take_vips_error();
    fail(kind, std::string(step) + (detail.empty() ? "" : ": " + detail));
}

// The accepted format whose loader libvips would pick for these bytes, by its nickname.
std::optional<image_format> sniff(std::span<std::byte const> input)
{
    char const* class_name = vips_foreign_find_load_buffer(input.data(), input.size());
    if (class_name == nullptr) {
        vips_error_clear();  // "not in a known format": an answer, not an error to keep
        return std::nullopt;
    }
    GType const type = g_type_from_name(class_name);
    char const* nickname = type == 0 ? nullptr : vips_nickname_find(type);
    if (nickname == nullptr)
        return std::nullopt;
    for (auto const& f : formats)
        if (std::string_view(nickname) == f.loader)
            return f.format;
    return std::nullopt;
}

void check_request(resize_request const& req)
{
    using enum image_error::kind;
    if (!req.width && !req.height)
        fail(bad_request, "width or height is required");
    for (auto side : {req.width, req.height})
        if (side && (*side < 1 || *side > max_side))
            fail(bad_request, "width and height must be positive (and below libvips' limit)");
    if (req.quality < 1 || req.quality > 100)
        fail(bad_request, "quality must be within 1-100");
    if (req.format && *req.format == image_format::gif)
        fail(bad_request, "GIF is not an output format");
}

// The output's size as vips_thumbnail will make it (after EXIF rotation), so that an
// upscale beyond the limit is refused before any pixel of it is computed.
std::pair<double, double> planned_size(int in_width, int in_height, bool swap, resize_request const& req)
{
    double const w = swap ? in_height : in_width;
    double const h = swap ? in_width : in_height;
    if (req.width && req.height) {
        if (req.fit != fit_mode::inside)
            return {*req.width, *req.height};
        double const scale = std::min(*req.width / w, *req.height / h);
        return {w * scale, h * scale};
    }
    if (req.width)
        return {*req.width, h * *req.width / w};
    return {w * *req.height / h, *req.height};
}

// The header alone (sequential access decodes nothing yet): refuse what is too large
// before libvips allocates anything for its pixels. Says whether the image embeds an ICC
// profile.
bool check_header(std::span<std::byte const> input, image_format format, resize_request const& req)
{
    using enum image_error::kind;
    if (format == image_format::webp) {
        if (auto canvas = webp_canvas(input);
            canvas && std::uint64_t{canvas->first} * canvas->second > req.max_pixels)
            fail(too_large, std::to_string(canvas->first) + "x" + std::to_string(canvas->second) + " is more than " +
                                std::to_string(req.max_pixels) + " pixels");
    }
    image_ptr header(vips_image_new_from_buffer(input.data(), input.size(), load_options(format), "access",
                                                VIPS_ACCESS_SEQUENTIAL, nullptr));
    if (!header)
        fail_from_vips(corrupt, "unreadable image header");

    // A GIF's first frame only: the default n=1 already gives one page, and
    // page_height says so explicitly.
    int const width = vips_image_get_width(header.get());
    int const height = vips_image_get_page_height(header.get());
    if (width < 1 || height < 1)
        fail(corrupt, "the header declares an empty image");
    if (width > max_side || height > max_side)
        fail(too_large, "the header declares a side longer than " + std::to_string(max_side));
    if (std::uint64_t{static_cast<unsigned>(width)} * static_cast<unsigned>(height) > req.max_pixels)
        fail(too_large, std::to_string(width) + "x" + std::to_string(height) + " is more than " +
                            std::to_string(req.max_pixels) + " pixels");

    bool const swap = vips_image_get_orientation_swap(header.get()) != 0;
    auto const [out_width, out_height] = planned_size(width, height, swap, req);
    // Each side may still round up by one; the exact size is checked after the thumbnail.
    if (std::max(out_width - 1, 0.0) * std::max(out_height - 1, 0.0) > static_cast<double>(req.max_pixels) ||
        out_width > max_side + 1.0 || out_height > max_side + 1.0)
        fail(too_large, "the resized image would be more than " + std::to_string(req.max_pixels) + " pixels");
    return vips_image_get_typeof(header.get(), VIPS_META_ICC_NAME) != 0;
}

image_ptr thumbnail(std::span<std::byte const> input, image_format format, resize_request const& req,
                    bool has_profile)
{
    // A missing side is unconstrained. VIPS_SIZE_BOTH (the default) lets a small image grow
    // to the requested size, as a client asking for width=800 expects.
    int const width = req.width.value_or(VIPS_MAX_COORD);
    int const height = req.height.value_or(VIPS_MAX_COORD);
    bool const both = req.width && req.height;
    VipsInteresting const crop = both && req.fit == fit_mode::cover ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE;
    VipsSize const size = both && req.fit == fit_mode::fill ? VIPS_SIZE_FORCE : VIPS_SIZE_BOTH;
    // The profile is stripped from the output, so a profiled input (a phone's Display P3
    // photo, a CMYK print file) is converted to sRGB, which is what a profile-less image
    // is taken to be. An untagged input is left alone: converting it would shift it.
    char const* export_profile = has_profile ? "srgb" : nullptr;
    // vips_thumbnail_buffer only reads the buffer; its prototype is not const-correct.
    void* const data = const_cast<std::byte*>(input.data());

    VipsImage* out = nullptr;
    int const status = vips_thumbnail_buffer(data, input.size(), &out, width, "height", height, "option_string",
                                             load_options(format), "crop", crop, "size", size, "export_profile",
                                             export_profile, nullptr);
    image_ptr image(out);
    if (status != 0 || !image)
        fail_from_vips(image_error::kind::corrupt, "could not decode the image");
    return image;
}

// White (and opaque) in the image's own scale, as libvips' private max_alpha has it.
double white_of(VipsImage const* image) noexcept
{
    switch (image->Type) {
    case VIPS_INTERPRETATION_RGB16:
    case VIPS_INTERPRETATION_GREY16:
        return 65535;
    case VIPS_INTERPRETATION_scRGB:
        return 1;
    default:
        return 255;
    }
}

// JPEG has no alpha: composite on white rather than on libvips' default black.
image_ptr flatten_on_white(image_ptr image)
{
    if (!vips_image_hasalpha(image.get()))
        return image;
    std::unique_ptr<VipsArrayDouble, area_unref> white(vips_array_double_newv(1, white_of(image.get())));
    VipsImage* out = nullptr;
    if (vips_flatten(image.get(), &out, "background", white.get(), nullptr) != 0) {
        image_ptr discard(out);
        fail_from_vips(image_error::kind::corrupt, "could not flatten the image");
    }
    return image_ptr(out);
}

// The output carries no metadata: no EXIF (camera, GPS), XMP, IPTC, ICC profile or comment.
// Saving with strip=TRUE is not enough: webpsave 8.14 writes EXIF and XMP regardless.
image_ptr without_metadata(image_ptr image)
{
    VipsImage* copy = nullptr;
    if (vips_copy(image.get(), &copy, nullptr) != 0) {
        image_ptr discard(copy);
        fail_from_vips(image_error::kind::corrupt, "could not copy the image");
    }
    image_ptr clean(copy);
    // The list also names the header fields (width, bands…), which are not metadata and
    // which vips_image_remove leaves alone.
    std::unique_ptr<gchar*, decltype(&g_strfreev)> fields(vips_image_get_fields(clean.get()), &g_strfreev);
    for (gchar** field = fields.get(); field != nullptr && *field != nullptr; ++field)
        vips_image_remove(clean.get(), *field);
    return clean;
}

std::uint32_t read_le32(std::string_view bytes, std::size_t at) noexcept
{
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i)
        value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
    return value;
}

// webpsave 8.14 adds an EXIF chunk (resolution, orientation) even with strip=TRUE and no
// metadata left on the image: drop EXIF and XMP chunks from the RIFF container and their
// flags from VP8X. Bytes of any other shape than libwebp's are left as they are.
std::string without_webp_metadata(std::string webp)
{
    if (webp.size() < 12 || webp.compare(0, 4, "RIFF") != 0 || webp.compare(8, 4, "WEBP") != 0)
        return webp;
    std::string out = webp.substr(0, 12);
    std::size_t at = 12;
    while (at + 8 <= webp.size()) {
        std::string_view const fourcc(webp.data() + at, 4);
        std::uint64_t const payload = read_le32(webp, at + 4);
        std::uint64_t const chunk = 8 + payload + (payload & 1);  // payloads are padded to even
        if (chunk > webp.size() - at)
            return webp;
        if (fourcc != "EXIF" && fourcc != "XMP ")
            out.append(webp, at, chunk);
        at += chunk;
    }
    if (at != webp.size())
        return webp;
    // VP8X, when present, is the first chunk; bits 3 and 2 of its flags announce EXIF and XMP.
    if (out.size() >= 21 && out.compare(12, 4, "VP8X") == 0)
        out[20] = static_cast<char>(static_cast<unsigned char>(out[20]) & ~0x0cu);
    std::uint32_t const riff_size = static_cast<std::uint32_t>(out.size() - 8);
    for (int i = 0; i < 4; ++i)
        out[4 + i] = static_cast<char>((riff_size >> (8 * i)) & 0xff);
    return out;
}

// Encoding is where the pixels are computed (libvips is lazy), so decode errors and
// truncation surface here too: they are the input's fault, hence corrupt.
std::string encode(VipsImage* image, image_format format, int quality)
{
    void* buffer = nullptr;
    std::size_t length = 0;
    int status = -1;
    switch (format) {
    case image_format::jpeg:
        status = vips_jpegsave_buffer(image, &buffer, &length, "Q", quality, "strip", TRUE, nullptr);
        break;
    case image_format::png:
        status = vips_pngsave_buffer(image, &buffer, &length, "strip", TRUE, nullptr);
        break;
    case image_format::webp:
        status = vips_webpsave_buffer(image, &buffer, &length, "Q", quality, "strip", TRUE, nullptr);
        break;
    case image_format::gif:
        break;
    }
    std::unique_ptr<void, g_free_deleter> owned(buffer);
    if (status != 0 || buffer == nullptr)
        fail_from_vips(image_error::kind::corrupt, "could not decode or encode the image");
    std::string bytes(static_cast<char const*>(buffer), length);
    return format == image_format::webp ? without_webp_metadata(std::move(bytes)) : bytes;
}

void discard_log(gchar const*, GLogLevelFlags, gchar const*, gpointer) {}

}  // namespace

std::optional<image_format> parse_image_format(std::string_view text) noexcept
{
    for (auto const& f : formats)
        if (f.api == text && f.format != image_format::gif)
            return f.format;
    return std::nullopt;
}

std::optional<fit_mode> parse_fit(std::string_view text) noexcept
{
    if (text == "inside")
        return fit_mode::inside;
    if (text == "cover")
        return fit_mode::cover;
    if (text == "fill")
        return fit_mode::fill;
    return std::nullopt;
}

std::string_view content_type(image_format format) noexcept
{
    for (auto const& f : formats)
        if (f.format == format)
            return f.mime;
    return {};
}

std::string_view name(image_format format) noexcept
{
    for (auto const& f : formats)
        if (f.format == format)
            return f.api;
    return {};
}

void init_images()
{
    static bool const ready = [] {
        if (VIPS_INIT("steadyloop") != 0)
            return false;
        // One libvips thread and no operation cache: a worker holds one image at a time.
        vips_concurrency_set(1);
        vips_cache_set_max(0);
        vips_cache_set_max_mem(0);
        vips_cache_set_max_files(0);
        // Only the four loaders we accept may run, whatever the bytes claim to be: the
        // others (TIFF, SVG, PDF, ImageMagick…) are attack surface this service has no use for.
        vips_operation_block_set("VipsForeignLoad", TRUE);
        for (auto const& f : formats)
            if (GType const type = vips_type_find("VipsForeignLoad", f.loader); type != 0)
                vips_operation_block_set(g_type_name(type), FALSE);
        // Hostile input makes libvips warn per tile; the error that matters is thrown.
        g_log_set_handler("VIPS",
                          static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO |
                                                      G_LOG_LEVEL_DEBUG),
                          discard_log, nullptr);
        return true;
    }();
    if (!ready)
        throw std::runtime_error("libvips could not be initialised");
}

resize_result resize_image(std::span<std::byte const> input, resize_request const& req)
{
    check_request(req);
    init_images();
    vips_error_clear();

    auto const input_format = sniff(input);
    if (!input_format)
        throw image_error(image_error::kind::unsupported, "not a JPEG, PNG, WebP or GIF image");
    bool const has_profile = check_header(input, *input_format, req);

    image_ptr image = thumbnail(input, *input_format, req, has_profile);
    int const width = vips_image_get_width(image.get());
    int const height = vips_image_get_height(image.get());
    if (std::uint64_t{static_cast<unsigned>(width)} * static_cast<unsigned>(height) > req.max_pixels)
        fail(image_error::kind::too_large,
             "the resized image would be more than " + std::to_string(req.max_pixels) + " pixels");

    image_format const format =
        req.format.value_or(*input_format == image_format::gif ? image_format::png : *input_format);
    if (format == image_format::jpeg)
        image = flatten_on_white(std::move(image));
    image = without_metadata(std::move(image));

    resize_result result{.bytes = encode(image.get(), format, req.quality), .format = format};
    result.width = vips_image_get_width(image.get());
    result.height = vips_image_get_height(image.get());
    return result;
}

}  // namespace steadyloop::jobs

#include "image_fixtures.hpp"

#include <vips/vips.h>

#include <algorithm>
#include <array>
#include <memory>
#include <random>
#include <stdexcept>

namespace steadyloop::test::images {

namespace {

struct gobject_unref {
    void operator()(gpointer object) const noexcept { g_object_unref(object); }
};
using image_ptr = std::unique_ptr<VipsImage, gobject_unref>;

struct g_free_deleter {
    void operator()(void* memory) const noexcept { g_free(memory); }
};

[[noreturn]] void fail(std::string const& step)
{
    std::string detail = vips_error_buffer();
    vips_error_clear();
    throw std::runtime_error("test image: " + step + ": " + detail);
}

image_ptr checked(VipsImage* image, int status, std::string const& step)
{
    image_ptr owned(image);
    if (status != 0 || !owned)
        fail(step);
    return owned;
}

image_ptr to_vips(pixels const& image)
{
    ensure_vips();
    if (image.width < 1 || image.height < 1 || image.bands < 1 ||
        image.data.size() != std::size_t(image.width) * std::size_t(image.height) * std::size_t(image.bands))
        throw std::invalid_argument("test image: pixel buffer does not match its size");
    image_ptr raw(vips_image_new_from_memory_copy(image.data.data(), image.data.size(), image.width, image.height,
                                                  image.bands, VIPS_FORMAT_UCHAR));
    if (!raw)
        fail("new_from_memory_copy");
    // Say what the bands mean, so that savers see colour (and alpha) rather than a
    // generic multiband image.
    VipsInterpretation const interpretation = image.bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
    VipsImage* out = nullptr;
    int const status = vips_copy(raw.get(), &out, "interpretation", interpretation, nullptr);
    return checked(out, status, "copy");
}

std::string save(VipsImage* image, encoding format, int quality)
{
    void* buffer = nullptr;
    std::size_t length = 0;
    int status = -1;
    switch (format) {
    case encoding::jpeg:
        status = vips_jpegsave_buffer(image, &buffer, &length, "Q", quality, nullptr);
        break;
    case encoding::png:
        status = vips_pngsave_buffer(image, &buffer, &length, nullptr);
        break;
    case encoding::webp:
        status = vips_webpsave_buffer(image, &buffer, &length, "Q", quality, nullptr);
        break;
    case encoding::gif:
        status = vips_gifsave_buffer(image, &buffer, &length, nullptr);
        break;
    case encoding::tiff:
        status = vips_tiffsave_buffer(image, &buffer, &length, nullptr);
        break;
    }
    std::unique_ptr<void, g_free_deleter> owned(buffer);
    if (status != 0 || buffer == nullptr)
        fail("save");
    return std::string(static_cast<char const*>(buffer), length);
}

// Big-endian, as PNG and its CRC want it.
void put_u32(std::string& out, std::uint32_t value)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void put_le(std::string& out, std::uint32_t value, int bytes)
{
    for (int i = 0; i < bytes; ++i)
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// CRC-32 as PNG defines it (ISO 3309, reflected, polynomial 0xEDB88320), bit by bit.
std::uint32_t crc32(std::string_view bytes)
{
    std::uint32_t crc = 0xffffffffu;
    for (unsigned char byte : bytes) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

void put_chunk(std::string& out, std::string_view type, std::string_view data)
{
    put_u32(out, static_cast<std::uint32_t>(data.size()));
    std::string body(type);
    body.append(data);
    out.append(body);
    put_u32(out, crc32(body));
}

image_ptr load(std::string_view bytes)
{
    ensure_vips();
    image_ptr image(
        vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "fail_on", VIPS_FAIL_ON_ERROR, nullptr));
    if (!image)
        fail("load");
    return image;
}

void* count_object(void*, void* count, void*)
{
    ++*static_cast<int*>(count);
    return nullptr;
}

}  // namespace

void ensure_vips()
{
    static bool const ready = VIPS_INIT("steadyloop-tests") == 0;
    if (!ready)
        throw std::runtime_error("test image: libvips could not be initialised");
}

pixels photo_pixels(int width, int height, unsigned seed, int noise)
{
    pixels image{.width = width, .height = height, .bands = 3, .data = {}};
    image.data.resize(std::size_t(width) * std::size_t(height) * 3);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> jitter(-noise, noise);
    auto clamp = [](int v) { return static_cast<unsigned char>(std::clamp(v, 0, 255)); };
    std::size_t i = 0;
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            int const r = width > 1 ? x * 255 / (width - 1) : 0;
            int const g = height > 1 ? y * 255 / (height - 1) : 0;
            int const b = (r + g) / 2;
            image.data[i++] = clamp(r + jitter(rng));
            image.data[i++] = clamp(g + jitter(rng));
            image.data[i++] = clamp(b + jitter(rng));
        }
    return image;
}

pixels solid_pixels(int width, int height, std::vector<unsigned char> const& value)
{
    pixels image{.width = width, .height = height, .bands = static_cast<int>(value.size()), .data = {}};
    image.data.reserve(std::size_t(width) * std::size_t(height) * value.size());
    for (int p = 0; p < width * height; ++p)
        image.data.insert(image.data.end(), value.begin(), value.end());
    return image;
}

std::string encode(pixels const& image, encoding format, encode_options const& options)
{
    image_ptr vips_image = to_vips(image);
    if (options.orientation) {
        // jpegsave writes the "orientation" field into the EXIF block it saves.
        vips_image_set_int(vips_image.get(), VIPS_META_ORIENTATION, *options.orientation);
    }
    if (!options.xmp.empty())
        vips_image_set_blob_copy(vips_image.get(), VIPS_META_XMP_NAME, options.xmp.data(), options.xmp.size());
    if (!options.icc_profile.empty()) {
        VipsBlob* profile = nullptr;
        if (vips_profile_load(options.icc_profile.c_str(), &profile, nullptr) != 0 || profile == nullptr)
            fail("profile_load");
        std::size_t length = 0;
        void const* data = vips_area_get_data(VIPS_AREA(profile), &length, nullptr, nullptr, nullptr);
        vips_image_set_blob_copy(vips_image.get(), VIPS_META_ICC_NAME, data, length);
        vips_area_unref(VIPS_AREA(profile));
    }
    return save(vips_image.get(), format, options.quality);
}

std::string photo(int width, int height, encoding format) { return encode(photo_pixels(width, height), format); }

std::string animated_gif(int width, int height, std::vector<rgb> const& frames)
{
    pixels strip{.width = width, .height = height * static_cast<int>(frames.size()), .bands = 3, .data = {}};
    for (rgb const& colour : frames)
        for (int p = 0; p < width * height; ++p)
            strip.data.insert(strip.data.end(), {colour.r, colour.g, colour.b});
    image_ptr image = to_vips(strip);
    // Frames are stacked vertically; page-height tells gifsave where each one ends.
    vips_image_set_int(image.get(), "page-height", height);
    std::vector<int> delays(frames.size(), 100);
    vips_image_set_array_int(image.get(), "delay", delays.data(), static_cast<int>(delays.size()));
    vips_image_set_int(image.get(), "loop", 0);
    return save(image.get(), encoding::gif, 0);
}

std::string png_claiming(std::uint32_t width, std::uint32_t height)
{
    std::string png("\x89PNG\r\n\x1a\n", 8);
    std::string ihdr;
    put_u32(ihdr, width);
    put_u32(ihdr, height);
    ihdr.append({'\x08', '\x02', '\x00', '\x00', '\x00'});  // 8-bit RGB, deflate, no filter, no interlace
    put_chunk(png, "IHDR", ihdr);
    // zlib header (deflate, 32 KiB window), one empty final fixed block, Adler-32 of nothing.
    put_chunk(png, "IDAT", std::string_view("\x78\x9c\x03\x00\x00\x00\x00\x01", 8));
    put_chunk(png, "IEND", "");
    return png;
}

std::string bmp_2x2()
{
    std::string bmp = "BM";
    constexpr std::uint32_t headers = 14 + 40;
    constexpr std::uint32_t row = 8;  // 2 pixels × 3 bytes, padded to 4
    put_le(bmp, headers + 2 * row, 4);
    put_le(bmp, 0, 4);
    put_le(bmp, headers, 4);
    put_le(bmp, 40, 4);  // BITMAPINFOHEADER
    put_le(bmp, 2, 4);   // width
    put_le(bmp, 2, 4);   // height (bottom-up)
    put_le(bmp, 1, 2);   // planes
    put_le(bmp, 24, 2);  // bits per pixel
    put_le(bmp, 0, 4);   // BI_RGB
    put_le(bmp, 2 * row, 4);
    put_le(bmp, 2835, 4);  // 72 dpi
    put_le(bmp, 2835, 4);
    put_le(bmp, 0, 4);
    put_le(bmp, 0, 4);
    for (int r = 0; r < 2; ++r)
        bmp.append("\x00\x00\xff\x00\xff\x00\x00\x00", 8);  // red, green (BGR), padding
    return bmp;
}

std::string svg_document()
{
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect width="64" height="48" fill="red"/></svg>
)";
}

std::string pdf_document()
{
    return "%PDF-1.4\n"
           "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
           "2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
           "3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 64 48] >> endobj\n"
           "trailer << /Root 1 0 R >>\n"
           "%%EOF\n";
}

std::string random_bytes(std::size_t size, unsigned seed)
{
    std::mt19937 rng(seed);
    std::string bytes(size, '\0');
    for (char& c : bytes)
        c = static_cast<char>(rng() & 0xff);
    return bytes;
}

std::optional<decoded> decode(std::string_view bytes)
{
    ensure_vips();
    char const* class_name = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
    if (class_name == nullptr) {
        vips_error_clear();
        return std::nullopt;
    }
    image_ptr image(
        vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "fail_on", VIPS_FAIL_ON_ERROR, nullptr));
    double mean = 0;
    // vips_avg reads every pixel, so a decode error shows here.
    if (!image || vips_avg(image.get(), &mean, nullptr) != 0) {
        vips_error_clear();
        return std::nullopt;
    }
    decoded d;
    char const* nickname = vips_nickname_find(g_type_from_name(class_name));
    d.loader = nickname != nullptr ? nickname : class_name;
    d.width = vips_image_get_width(image.get());
    d.height = vips_image_get_page_height(image.get());
    d.bands = vips_image_get_bands(image.get());
    d.pages = vips_image_get_n_pages(image.get());
    if (vips_image_get_typeof(image.get(), VIPS_META_ORIENTATION) != 0)
        d.orientation = vips_image_get_orientation(image.get());
    d.has_exif = vips_image_get_typeof(image.get(), VIPS_META_EXIF_NAME) != 0;
    d.has_xmp = vips_image_get_typeof(image.get(), VIPS_META_XMP_NAME) != 0;
    d.has_icc = vips_image_get_typeof(image.get(), VIPS_META_ICC_NAME) != 0;
    return d;
}

std::vector<double> mean_pixel(std::string_view bytes, int left, int top, int width, int height)
{
    image_ptr image = load(bytes);
    VipsImage* area_out = nullptr;
    int status = vips_extract_area(image.get(), &area_out, left, top, width, height, nullptr);
    image_ptr area = checked(area_out, status, "extract_area");
    std::vector<double> means;
    for (int band = 0; band < vips_image_get_bands(area.get()); ++band) {
        VipsImage* band_out = nullptr;
        status = vips_extract_band(area.get(), &band_out, band, nullptr);
        image_ptr one = checked(band_out, status, "extract_band");
        double mean = 0;
        if (vips_avg(one.get(), &mean, nullptr) != 0)
            fail("avg");
        means.push_back(mean);
    }
    return means;
}

int live_vips_objects()
{
    ensure_vips();
    int count = 0;
    vips_object_map(count_object, &count, nullptr);
    return count;
}

}  // namespace steadyloop::test::images

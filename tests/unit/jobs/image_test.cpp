#include "steadyloop/jobs/image.hpp"

#include "image_fixtures.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

using namespace steadyloop::jobs;
namespace img = steadyloop::test::images;

namespace {

using kind = image_error::kind;

constexpr int photo_width = 640;
constexpr int photo_height = 480;

// The photo every resize test starts from, encoded once per format.
std::string const& photo(img::encoding format)
{
    static std::string const jpeg = img::photo(photo_width, photo_height, img::encoding::jpeg);
    static std::string const png = img::photo(photo_width, photo_height, img::encoding::png);
    static std::string const webp = img::photo(photo_width, photo_height, img::encoding::webp);
    static std::string const gif = img::photo(photo_width, photo_height, img::encoding::gif);
    switch (format) {
    case img::encoding::png:
        return png;
    case img::encoding::webp:
        return webp;
    case img::encoding::gif:
        return gif;
    default:
        return jpeg;
    }
}

resize_request box(std::optional<int> width, std::optional<int> height, fit_mode fit = fit_mode::inside,
                   std::optional<image_format> format = std::nullopt)
{
    resize_request req;
    req.width = width;
    req.height = height;
    req.fit = fit;
    req.format = format;
    return req;
}

resize_result resize(std::string_view input, resize_request const& req)
{
    return resize_image(std::as_bytes(std::span(input.data(), input.size())), req);
}

// The kind of image_error the resize throws; nullopt (and a test failure) when it
// succeeds or throws anything else.
std::optional<kind> error_of(std::string_view input, resize_request const& req)
{
    try {
        auto const result = resize(input, req);
        ADD_FAILURE() << "resized to " << result.width << "x" << result.height << " instead of failing";
    } catch (image_error const& e) {
        EXPECT_NE(std::string_view(e.what()), "");
        return e.which();
    } catch (std::exception const& e) {
        ADD_FAILURE() << "threw something other than image_error: " << e.what();
    }
    return std::nullopt;
}

std::string_view loader_of(image_format format)
{
    switch (format) {
    case image_format::jpeg:
        return "jpegload_buffer";
    case image_format::png:
        return "pngload_buffer";
    case image_format::webp:
        return "webpload_buffer";
    case image_format::gif:
        return "gifload_buffer";
    }
    return "";
}

// Decodes the result with libvips and checks it is what resize_result says it is.
img::decoded decoded_result(resize_result const& result)
{
    auto const d = img::decode(result.bytes);
    EXPECT_TRUE(d.has_value()) << "libvips cannot decode the output";
    if (!d)
        return {};
    EXPECT_EQ(d->loader, loader_of(result.format));
    EXPECT_EQ(d->width, result.width);
    EXPECT_EQ(d->height, result.height);
    return *d;
}

double red(std::string const& bytes, int left, int top, int width, int height)
{
    return img::mean_pixel(bytes, left, top, width, height).at(0);
}

double green(std::string const& bytes, int left, int top, int width, int height)
{
    return img::mean_pixel(bytes, left, top, width, height).at(1);
}

constexpr fit_mode all_fits[] = {fit_mode::inside, fit_mode::cover, fit_mode::fill};
constexpr image_format output_formats[] = {image_format::jpeg, image_format::png, image_format::webp};

}  // namespace

TEST(image_format, parses_exactly_the_output_formats)
{
    EXPECT_EQ(parse_image_format("jpeg"), image_format::jpeg);
    EXPECT_EQ(parse_image_format("png"), image_format::png);
    EXPECT_EQ(parse_image_format("webp"), image_format::webp);
    // GIF is read, never written.
    for (std::string_view bad : {"gif", "", "jpg", "JPEG", "Png", "webp ", " png", "image/png", "tiff", "avif"})
        EXPECT_EQ(parse_image_format(bad), std::nullopt) << "'" << bad << "'";
    EXPECT_EQ(parse_image_format(std::string_view("png\0x", 5)), std::nullopt);
}

TEST(image_format, parses_exactly_the_fit_modes)
{
    EXPECT_EQ(parse_fit("inside"), fit_mode::inside);
    EXPECT_EQ(parse_fit("cover"), fit_mode::cover);
    EXPECT_EQ(parse_fit("fill"), fit_mode::fill);
    for (std::string_view bad : {"", "Inside", "contain", "outside", "stretch", "crop", "cover "})
        EXPECT_EQ(parse_fit(bad), std::nullopt) << "'" << bad << "'";
}

TEST(image_format, names_and_content_types)
{
    EXPECT_EQ(content_type(image_format::jpeg), "image/jpeg");
    EXPECT_EQ(content_type(image_format::png), "image/png");
    EXPECT_EQ(content_type(image_format::webp), "image/webp");
    EXPECT_EQ(content_type(image_format::gif), "image/gif");
    for (auto format : output_formats)
        EXPECT_EQ(parse_image_format(name(format)), format) << name(format);
    EXPECT_EQ(name(image_format::gif), "gif");
}

TEST(image_resize, every_fit_and_output_format_decodes_to_the_expected_size)
{
    // 640×480 into 300×100: inside is bounded by the height (133×100), cover and fill
    // give the box itself.
    for (auto fit : all_fits)
        for (auto format : output_formats) {
            SCOPED_TRACE(testing::Message() << "fit " << int(fit) << ", format " << name(format));
            auto const result = resize(photo(img::encoding::jpeg), box(300, 100, fit, format));
            EXPECT_EQ(result.format, format);
            auto const d = decoded_result(result);
            EXPECT_EQ(d.height, 100);
            if (fit == fit_mode::inside)
                EXPECT_NEAR(d.width, 100.0 * photo_width / photo_height, 1.0);
            else
                EXPECT_EQ(d.width, 300);
        }
}

TEST(image_resize, cover_fills_the_box_exactly)
{
    for (auto format : output_formats) {
        SCOPED_TRACE(name(format));
        auto const result = resize(photo(img::encoding::jpeg), box(200, 200, fit_mode::cover, format));
        auto const d = decoded_result(result);
        EXPECT_EQ(d.width, 200);
        EXPECT_EQ(d.height, 200);
        // The centre is kept: scaled to 267×200, 33 columns are cut on each side, so the
        // left edge is no longer the photo's (red 0) but about an eighth of the way in.
        double const left_red = red(result.bytes, 0, 0, 3, 200);
        EXPECT_GT(left_red, 20) << "the left edge was not cropped";
        EXPECT_LT(left_red, 50);
        EXPECT_LT(green(result.bytes, 0, 0, 200, 3), 15) << "the top was cropped";
    }
}

TEST(image_resize, fill_stretches_to_exactly_the_box)
{
    // 100×300 is portrait: an aspect ratio nothing like the photo's 4:3.
    for (auto format : output_formats) {
        SCOPED_TRACE(name(format));
        auto const result = resize(photo(img::encoding::jpeg), box(100, 300, fit_mode::fill, format));
        auto const d = decoded_result(result);
        EXPECT_EQ(d.width, 100);
        EXPECT_EQ(d.height, 300);
        // Nothing is cropped: every edge of the photo is still there.
        EXPECT_LT(red(result.bytes, 0, 0, 2, 300), 15);
        EXPECT_GT(red(result.bytes, 98, 0, 2, 300), 240);
        EXPECT_LT(green(result.bytes, 0, 0, 100, 2), 15);
        EXPECT_GT(green(result.bytes, 0, 298, 100, 2), 240);
    }
}

TEST(image_resize, inside_keeps_the_aspect_ratio_within_a_pixel)
{
    struct sizes {
        int width, height;
    };
    for (auto const [w, h] : {sizes{500, 500}, sizes{333, 333}, sizes{100, 400}, sizes{640, 1}, sizes{7, 1000},
                              sizes{1000, 7}, sizes{97, 61}}) {
        SCOPED_TRACE(testing::Message() << "box " << w << "x" << h);
        auto const d = decoded_result(resize(photo(img::encoding::png), box(w, h, fit_mode::inside)));
        EXPECT_LE(d.width, w);
        EXPECT_LE(d.height, h);
        if (double(w) / photo_width <= double(h) / photo_height) {
            EXPECT_EQ(d.width, w);
            EXPECT_NEAR(d.height, double(w) * photo_height / photo_width, 1.0);
        } else {
            EXPECT_EQ(d.height, h);
            EXPECT_NEAR(d.width, double(h) * photo_width / photo_height, 1.0);
        }
    }
}

TEST(image_resize, one_side_only_keeps_the_aspect_ratio_for_every_fit)
{
    for (auto fit : all_fits) {
        SCOPED_TRACE(int(fit));
        auto const by_width = decoded_result(resize(photo(img::encoding::jpeg), box(320, std::nullopt, fit)));
        EXPECT_EQ(by_width.width, 320);
        EXPECT_EQ(by_width.height, 240);
        auto const by_height = decoded_result(resize(photo(img::encoding::jpeg), box(std::nullopt, 120, fit)));
        EXPECT_EQ(by_height.width, 160);
        EXPECT_EQ(by_height.height, 120);
    }
}

TEST(image_resize, a_small_image_is_enlarged_to_the_requested_size)
{
    auto const d = decoded_result(resize(photo(img::encoding::jpeg), box(1280, std::nullopt)));
    EXPECT_EQ(d.width, 1280);
    EXPECT_EQ(d.height, 960);
}

TEST(image_resize, reads_every_input_format_and_answers_in_it_by_default)
{
    struct input_case {
        img::encoding input;
        image_format expected;
    };
    for (auto const [input, expected] :
         {input_case{img::encoding::jpeg, image_format::jpeg}, input_case{img::encoding::png, image_format::png},
          input_case{img::encoding::webp, image_format::webp}, input_case{img::encoding::gif, image_format::png}}) {
        SCOPED_TRACE(name(expected));
        auto const same = resize(photo(input), box(200, 200));
        EXPECT_EQ(same.format, expected);
        auto const d = decoded_result(same);
        EXPECT_EQ(d.width, 200);
        EXPECT_EQ(d.height, 150);
        // And into every output format on request.
        for (auto format : output_formats) {
            auto const converted = resize(photo(input), box(100, std::nullopt, fit_mode::inside, format));
            EXPECT_EQ(converted.format, format);
            EXPECT_EQ(decoded_result(converted).height, 75);
        }
    }
}

TEST(image_resize, quality_trades_size_for_fidelity)
{
    for (auto format : {image_format::jpeg, image_format::webp}) {
        SCOPED_TRACE(name(format));
        auto low = box(400, std::nullopt, fit_mode::inside, format);
        low.quality = 10;
        auto high = low;
        high.quality = 95;
        auto const small = resize(photo(img::encoding::png), low);
        auto const large = resize(photo(img::encoding::png), high);
        EXPECT_LT(small.bytes.size() * 2, large.bytes.size());
        EXPECT_EQ(decoded_result(small).width, 400);
    }
}

TEST(image_resize, applies_exif_orientation_and_strips_metadata)
{
    img::encode_options metadata;
    metadata.orientation = 6;
    metadata.xmp = R"(<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>)";
    metadata.icc_profile = "srgb";
    std::string const rotated = img::encode(img::photo_pixels(600, 400), img::encoding::jpeg, metadata);
    // The fixture itself: a landscape JPEG whose EXIF says "rotate 90° clockwise to view",
    // with an XMP packet and an ICC profile as well.
    auto const original = img::decode(rotated);
    ASSERT_TRUE(original.has_value());
    EXPECT_EQ(original->width, 600);
    EXPECT_EQ(original->height, 400);
    EXPECT_TRUE(original->has_exif);
    EXPECT_TRUE(original->has_xmp);
    EXPECT_TRUE(original->has_icc);
    EXPECT_EQ(original->orientation, 6);

    for (auto format : output_formats) {
        SCOPED_TRACE(name(format));
        auto const result = resize(rotated, box(300, 300, fit_mode::inside, format));
        auto const d = decoded_result(result);
        EXPECT_EQ(d.width, 200);
        EXPECT_EQ(d.height, 300);
        EXPECT_FALSE(d.has_exif);
        EXPECT_FALSE(d.has_xmp);
        EXPECT_FALSE(d.has_icc);
        EXPECT_EQ(d.orientation, std::nullopt);
        // Turned clockwise: red, which grew left to right, now grows top to bottom, and
        // green, which grew top to bottom, now grows right to left.
        EXPECT_LT(red(result.bytes, 0, 0, 200, 3), 20);
        EXPECT_GT(red(result.bytes, 0, 297, 200, 3), 235);
        EXPECT_GT(green(result.bytes, 0, 0, 3, 300), 235);
        EXPECT_LT(green(result.bytes, 197, 0, 3, 300), 20);
    }
}

TEST(image_resize, an_animated_gif_gives_its_first_frame)
{
    std::string const gif = img::animated_gif(60, 40, {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}});
    auto const original = img::decode(gif);
    ASSERT_TRUE(original.has_value());
    EXPECT_EQ(original->pages, 3);
    EXPECT_EQ(original->height, 40);

    for (auto format : {std::optional<image_format>{}, std::optional(image_format::jpeg),
                        std::optional(image_format::webp)}) {
        auto const result = resize(gif, box(30, std::nullopt, fit_mode::inside, format));
        EXPECT_EQ(result.format, format.value_or(image_format::png));
        auto const d = decoded_result(result);
        EXPECT_EQ(d.width, 30);
        EXPECT_EQ(d.height, 20) << "not one frame";
        EXPECT_EQ(d.pages, 1);
        auto const colour = img::mean_pixel(result.bytes, 0, 0, 30, 20);
        EXPECT_GT(colour.at(0), 200);
        EXPECT_LT(colour.at(1), 50);
        EXPECT_LT(colour.at(2), 50);
    }
}

TEST(image_resize, transparency_becomes_white_in_jpeg_and_stays_in_png)
{
    std::string const clear = img::encode(img::solid_pixels(64, 64, {0, 0, 0, 0}), img::encoding::png);
    auto const jpeg = resize(clear, box(32, std::nullopt, fit_mode::inside, image_format::jpeg));
    auto const on_white = img::mean_pixel(jpeg.bytes, 0, 0, 32, 32);
    for (double band : on_white)
        EXPECT_GT(band, 250);
    auto const png = resize(clear, box(32, std::nullopt));
    EXPECT_EQ(decoded_result(png).bands, 4);
    EXPECT_LT(img::mean_pixel(png.bytes, 0, 0, 32, 32).at(3), 5);
}

TEST(image_resize, a_display_p3_image_is_converted_to_srgb_and_an_untagged_one_is_not)
{
    // The output carries no profile, so its numbers must already be sRGB's.
    auto const solid = img::solid_pixels(64, 64, {200, 150, 100});
    img::encode_options p3;
    p3.icc_profile = "p3";
    for (auto const& [label, options, expect_change] :
         {std::tuple{"p3", p3, true}, std::tuple{"untagged", img::encode_options{}, false}}) {
        SCOPED_TRACE(label);
        auto const result = resize(img::encode(solid, img::encoding::png, options), box(32, std::nullopt));
        EXPECT_FALSE(decoded_result(result).has_icc);
        auto const colour = img::mean_pixel(result.bytes, 0, 0, 32, 32);
        double const shift = std::abs(colour.at(0) - 200) + std::abs(colour.at(1) - 150) + std::abs(colour.at(2) - 100);
        if (expect_change)
            EXPECT_GT(shift, 10) << colour.at(0) << " " << colour.at(1) << " " << colour.at(2);
        else
            EXPECT_LT(shift, 1.5) << colour.at(0) << " " << colour.at(1) << " " << colour.at(2);
    }
}

TEST(image_resize, a_twelve_megapixel_jpeg_shrinks_to_256_px)
{
    std::string const large = img::photo(4000, 3000, img::encoding::jpeg);
    auto req = box(256, std::nullopt, fit_mode::inside, image_format::jpeg);
    init_images();
    auto const start = std::chrono::steady_clock::now();
    auto const result = resize(large, req);
    auto const ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    auto const d = decoded_result(result);
    EXPECT_EQ(d.width, 256);
    EXPECT_EQ(d.height, 192);
    std::cout << "[   info   ] 12 MP JPEG (" << large.size() << " bytes) -> 256 px JPEG: " << ms << " ms\n";
}

TEST(image_hostile, random_bytes_and_empty_input_are_unsupported)
{
    EXPECT_EQ(error_of("", box(100, 100)), kind::unsupported);
    for (std::size_t size : {1, 2, 16, 100, 4096, 100'000})
        EXPECT_EQ(error_of(img::random_bytes(size, unsigned(size)), box(100, 100)), kind::unsupported) << size;
}

TEST(image_hostile, other_image_formats_are_unsupported)
{
    EXPECT_EQ(error_of(img::photo(64, 48, img::encoding::tiff), box(32, 32)), kind::unsupported);
    EXPECT_EQ(error_of(img::bmp_2x2(), box(32, 32)), kind::unsupported);
    EXPECT_EQ(error_of(img::svg_document(), box(32, 32)), kind::unsupported);
    EXPECT_EQ(error_of(img::pdf_document(), box(32, 32)), kind::unsupported);
}

TEST(image_hostile, a_truncated_jpeg_is_corrupt)
{
    std::string const& jpeg = photo(img::encoding::jpeg);
    for (std::size_t keep : {std::size_t{200}, jpeg.size() / 4, jpeg.size() / 2, jpeg.size() * 3 / 4, jpeg.size() - 2})
        for (auto format : output_formats)
            EXPECT_EQ(error_of(jpeg.substr(0, keep), box(100, 100, fit_mode::inside, format)), kind::corrupt)
                << keep << " of " << jpeg.size() << " bytes, to " << name(format);
}

TEST(image_hostile, a_truncated_png_is_corrupt)
{
    std::string const& png = photo(img::encoding::png);
    for (std::size_t keep : {std::size_t{40}, png.size() / 4, png.size() / 2, png.size() * 3 / 4, png.size() - 100})
        for (auto format : output_formats)
            EXPECT_EQ(error_of(png.substr(0, keep), box(100, 100, fit_mode::cover, format)), kind::corrupt)
                << keep << " of " << png.size() << " bytes, to " << name(format);
}

TEST(image_hostile, a_truncated_webp_or_gif_is_corrupt)
{
    for (auto input : {img::encoding::webp, img::encoding::gif}) {
        std::string const& bytes = photo(input);
        EXPECT_EQ(error_of(bytes.substr(0, bytes.size() / 2), box(100, 100)), kind::corrupt) << int(input);
    }
}

TEST(image_hostile, a_png_claiming_30000_squared_is_too_large_quickly)
{
    std::string const png = img::png_claiming(30000, 30000);
    EXPECT_LT(png.size(), 100u);
    init_images();
    auto const start = std::chrono::steady_clock::now();
    EXPECT_EQ(error_of(png, box(100, 100)), kind::too_large);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
    // With room for 900 megapixels the same bytes get as far as their (missing) pixel
    // data: the verdict above came from the header alone.
    auto roomy = box(100, 100);
    roomy.max_pixels = 1'000'000'000;
    EXPECT_EQ(error_of(png, roomy), kind::corrupt);
}

TEST(image_hostile, absurd_declared_sizes_are_refused_before_decoding)
{
    init_images();
    auto const start = std::chrono::steady_clock::now();
    // 5 million pixels a side: a header libpng accepts, refused for its pixel count.
    EXPECT_EQ(error_of(img::png_claiming(5'000'000, 5'000'000), box(100, 100)), kind::too_large);
    // Even with no pixel limit at all, sides beyond libpng's and libvips' limits (10
    // million) leave the header unreadable, and a side of 0 is no image.
    auto unlimited = box(100, 100);
    unlimited.max_pixels = std::numeric_limits<std::uint64_t>::max();
    for (auto [w, h] : {std::pair<std::uint32_t, std::uint32_t>{0x7fffffff, 0x7fffffff}, {0x7fffffff, 1},
                        {1, 0x7fffffff}, {20'000'000, 20'000'000}, {0, 100}, {100, 0}})
        EXPECT_EQ(error_of(img::png_claiming(w, h), unlimited), kind::corrupt) << w << "x" << h;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST(image_hostile, max_pixels_is_respected_exactly_at_the_boundary)
{
    auto req = box(100, std::nullopt);
    req.max_pixels = std::uint64_t{photo_width} * photo_height;
    for (auto input : {img::encoding::jpeg, img::encoding::png, img::encoding::webp, img::encoding::gif}) {
        SCOPED_TRACE(int(input));
        req.max_pixels = std::uint64_t{photo_width} * photo_height;
        EXPECT_EQ(resize(photo(input), req).width, 100);
        req.max_pixels -= 1;
        EXPECT_EQ(error_of(photo(input), req), kind::too_large);
    }
    // A GIF counts its first frame, not the strip of all its frames.
    std::string const gif = img::animated_gif(60, 40, {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}});
    req.width = 30;
    req.max_pixels = 60 * 40;
    EXPECT_EQ(resize(gif, req).height, 20);
    req.max_pixels -= 1;
    EXPECT_EQ(error_of(gif, req), kind::too_large);
}

TEST(image_hostile, an_enlargement_beyond_max_pixels_is_too_large)
{
    // 4×1000 to 8192 wide would be 8192×2048000: refused before any of it is computed.
    std::string const sliver = img::encode(img::photo_pixels(4, 1000), img::encoding::png);
    init_images();
    auto const start = std::chrono::steady_clock::now();
    EXPECT_EQ(error_of(sliver, box(8192, std::nullopt)), kind::too_large);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
    EXPECT_EQ(decoded_result(resize(sliver, box(40, std::nullopt))).height, 10000);

    // The output counts as well as the input: 1280×960 is more than a megapixel.
    auto req = box(1280, std::nullopt);
    req.max_pixels = 1'000'000;
    EXPECT_EQ(error_of(photo(img::encoding::jpeg), req), kind::too_large);
    req.max_pixels = 1280 * 960;
    EXPECT_EQ(resize(photo(img::encoding::jpeg), req).height, 960);
}

TEST(image_request, invalid_requests_are_bad_requests)
{
    std::string const& jpeg = photo(img::encoding::jpeg);
    EXPECT_EQ(error_of(jpeg, box(std::nullopt, std::nullopt)), kind::bad_request);
    EXPECT_EQ(error_of(jpeg, box(std::nullopt, std::nullopt, fit_mode::cover)), kind::bad_request);
    EXPECT_EQ(error_of(jpeg, box(0, 100)), kind::bad_request);
    EXPECT_EQ(error_of(jpeg, box(100, -1)), kind::bad_request);
    EXPECT_EQ(error_of(jpeg, box(100, 100, fit_mode::inside, image_format::gif)), kind::bad_request);
    auto req = box(100, 100);
    for (int quality : {0, -5, 101}) {
        req.quality = quality;
        EXPECT_EQ(error_of(jpeg, req), kind::bad_request) << quality;
    }
    req.quality = 1;
    EXPECT_EQ(resize(jpeg, req).width, 100);
    // The request is judged before the bytes are.
    EXPECT_EQ(error_of(img::random_bytes(64, 7), box(std::nullopt, std::nullopt)), kind::bad_request);
}

TEST(image_resize, releases_every_libvips_object_on_every_path)
{
    std::string const& jpeg = photo(img::encoding::jpeg);
    std::string const gif = img::animated_gif(60, 40, {{255, 0, 0}, {0, 255, 0}});
    auto small = box(50, std::nullopt);
    small.max_pixels = 1000;
    img::encode_options rotated;
    rotated.orientation = 6;
    auto run_all = [&] {
        for (auto fit : all_fits)
            for (auto format : output_formats)
                resize(jpeg, box(120, 90, fit, format));
        resize(gif, box(30, 30));
        resize(img::encode(img::photo_pixels(600, 400), img::encoding::jpeg, rotated), box(100, 100));
        error_of(jpeg.substr(0, jpeg.size() / 2), box(100, 100));
        error_of(photo(img::encoding::png).substr(0, 5000), box(100, 100, fit_mode::fill));
        error_of(jpeg, small);
        error_of(img::png_claiming(30000, 30000), box(100, 100));
        error_of(img::random_bytes(100, 3), box(100, 100));
        error_of(img::photo(64, 48, img::encoding::tiff), box(100, 100));
    };
    run_all();  // first use creates libvips' lasting singletons (interpolators and the like)
    int const before = img::live_vips_objects();
    run_all();
    run_all();
    EXPECT_EQ(img::live_vips_objects(), before);
}

TEST(image_resize, a_failure_leaves_nothing_for_the_next_job)
{
    std::string const& jpeg = photo(img::encoding::jpeg);
    EXPECT_EQ(error_of(jpeg.substr(0, jpeg.size() / 2), box(100, 100)), kind::corrupt);
    auto const result = resize(jpeg, box(100, 100));
    EXPECT_EQ(decoded_result(result).width, 100);
}

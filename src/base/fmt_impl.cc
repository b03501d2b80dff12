// libfmt's compiled part, built into weft_base from the installed headers (libfmt-dev), so that no
// weft binary needs libfmt.so at run time. weftd then links libstdc++ statically too (it would
// otherwise be loaded for libfmt.so anyway) and maps only libc: one fewer shared object to map and
// relocate at every start, and one fewer package on a node.
//
// <fmt/format-inl.h> defines every non-template function the headers declare; the templates
// below are the ones the headers declare `extern` and expect the library to instantiate.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template locale_ref::locale_ref(const std::locale& loc);
template auto locale_ref::get<std::locale>() const -> std::locale;
template auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template auto decimal_point_impl(locale_ref) -> char;
template void buffer<char>::append(const char*, const char*);
template void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                         locale_ref);

} // namespace detail
FMT_END_NAMESPACE

// The VQA accuracy metric as TextVQA is scored in LLaVA's evaluation (llava/eval/m4c_evaluator.py,
// EvalAIAnswerProcessor and TextVQAAccuracyEvaluator, themselves from facebookresearch/mmf):
// the answer normalisation step by step, and the soft score against 10 human answers.
#include <algorithm>
#include <map>

#include "bench/bench_util.h"
#include "regionchat/bench.h"

namespace rc {
namespace bench {

using detail::py_lower;
using detail::py_split;
using detail::py_strip;
using detail::replace_all;

namespace {

// Missing apostrophes the processor adds (the metric's own table). Keys are matched after
// lowering, so the few with capitals ("Im", "Ive", ...) never match; they are kept as published.
const std::map<std::string, std::string>& contractions() {
    static const std::map<std::string, std::string> table = {
        {"aint", "ain't"},
        {"arent", "aren't"},
        {"cant", "can't"},
        {"couldve", "could've"},
        {"couldnt", "couldn't"},
        {"couldn'tve", "couldn't've"},
        {"couldnt've", "couldn't've"},
        {"didnt", "didn't"},
        {"doesnt", "doesn't"},
        {"dont", "don't"},
        {"hadnt", "hadn't"},
        {"hadnt've", "hadn't've"},
        {"hadn'tve", "hadn't've"},
        {"hasnt", "hasn't"},
        {"havent", "haven't"},
        {"hed", "he'd"},
        {"hed've", "he'd've"},
        {"he'dve", "he'd've"},
        {"hes", "he's"},
        {"howd", "how'd"},
        {"howll", "how'll"},
        {"hows", "how's"},
        {"Id've", "I'd've"},
        {"I'dve", "I'd've"},
        {"Im", "I'm"},
        {"Ive", "I've"},
        {"isnt", "isn't"},
        {"itd", "it'd"},
        {"itd've", "it'd've"},
        {"it'dve", "it'd've"},
        {"itll", "it'll"},
        {"let's", "let's"},
        {"maam", "ma'am"},
        {"mightnt", "mightn't"},
        {"mightnt've", "mightn't've"},
        {"mightn'tve", "mightn't've"},
        {"mightve", "might've"},
        {"mustnt", "mustn't"},
        {"mustve", "must've"},
        {"neednt", "needn't"},
        {"notve", "not've"},
        {"oclock", "o'clock"},
        {"oughtnt", "oughtn't"},
        {"ow's'at", "'ow's'at"},
        {"'ows'at", "'ow's'at"},
        {"'ow'sat", "'ow's'at"},
        {"shant", "shan't"},
        {"shed've", "she'd've"},
        {"she'dve", "she'd've"},
        {"she's", "she's"},
        {"shouldve", "should've"},
        {"shouldnt", "shouldn't"},
        {"shouldnt've", "shouldn't've"},
        {"shouldn'tve", "shouldn't've"},
        {"somebody'd", "somebodyd"},  // sic: the published table maps this one backwards
        {"somebodyd've", "somebody'd've"},
        {"somebody'dve", "somebody'd've"},
        {"somebodyll", "somebody'll"},
        {"somebodys", "somebody's"},
        {"someoned", "someone'd"},
        {"someoned've", "someone'd've"},
        {"someone'dve", "someone'd've"},
        {"someonell", "someone'll"},
        {"someones", "someone's"},
        {"somethingd", "something'd"},
        {"somethingd've", "something'd've"},
        {"something'dve", "something'd've"},
        {"somethingll", "something'll"},
        {"thats", "that's"},
        {"thered", "there'd"},
        {"thered've", "there'd've"},
        {"there'dve", "there'd've"},
        {"therere", "there're"},
        {"theres", "there's"},
        {"theyd", "they'd"},
        {"theyd've", "they'd've"},
        {"they'dve", "they'd've"},
        {"theyll", "they'll"},
        {"theyre", "they're"},
        {"theyve", "they've"},
        {"twas", "'twas"},
        {"wasnt", "wasn't"},
        {"wed've", "we'd've"},
        {"we'dve", "we'd've"},
        {"weve", "we've"},
        {"werent", "weren't"},
        {"whatll", "what'll"},
        {"whatre", "what're"},
        {"whats", "what's"},
        {"whatve", "what've"},
        {"whens", "when's"},
        {"whered", "where'd"},
        {"wheres", "where's"},
        {"whereve", "where've"},
        {"whod", "who'd"},
        {"whod've", "who'd've"},
        {"who'dve", "who'd've"},
        {"wholl", "who'll"},
        {"whos", "who's"},
        {"whove", "who've"},
        {"whyll", "why'll"},
        {"whyre", "why're"},
        {"whys", "why's"},
        {"wont", "won't"},
        {"wouldve", "would've"},
        {"wouldnt", "wouldn't"},
        {"wouldnt've", "wouldn't've"},
        {"wouldn'tve", "wouldn't've"},
        {"yall", "y'all"},
        {"yall'll", "y'all'll"},
        {"y'allll", "y'all'll"},
        {"yall'd've", "y'all'd've"},
        {"y'alld've", "y'all'd've"},
        {"y'all'dve", "y'all'd've"},
        {"youd", "you'd"},
        {"youd've", "you'd've"},
        {"you'dve", "you'd've"},
        {"youll", "you'll"},
        {"youre", "you're"},
        {"youve", "you've"},
    };
    return table;
}

const std::map<std::string, std::string>& number_words() {
    static const std::map<std::string, std::string> table = {
        {"none", "0"}, {"zero", "0"}, {"one", "1"}, {"two", "2"},   {"three", "3"}, {"four", "4"},
        {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"},
    };
    return table;
}

// In the order the processor applies them; the order matters only through the replacements.
const char* const kPunctuations[] = {";", "/", "[", "]",  "\"", "{", "}", "(", ")", "=", "+",
                                     "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// COMMA_STRIP: a digit, one or more commas, a digit.
bool has_comma_between_digits(const std::string& s) {
    for (size_t i = 0; i + 2 < s.size(); ++i) {
        if (!is_digit(s[i]) || s[i + 1] != ',') continue;
        size_t j = i + 1;
        while (j < s.size() && s[j] == ',') ++j;
        if (j < s.size() && is_digit(s[j])) return true;
    }
    return false;
}

std::string word_tokenize(const std::string& word) {
    std::string w = py_lower(word);
    w = replace_all(w, ",", "");
    w = replace_all(w, "?", "");
    w = replace_all(w, "'s", " 's");
    return py_strip(w);
}

std::string process_punctuation(const std::string& in) {
    std::string out = in;
    const bool comma_digits = has_comma_between_digits(in);
    for (const char* p : kPunctuations) {
        const std::string punct(p);
        // The test looks at the input text, the replacement at the text so far.
        const bool touches_space = in.find(punct + " ") != std::string::npos ||
                                   in.find(" " + punct) != std::string::npos;
        out = replace_all(out, punct, touches_space || comma_digits ? "" : " ");
    }
    // PERIOD_STRIP "(?!<=\d)(\.)(?!\d)": the first group is a lookahead (not a lookbehind), so
    // every "." not followed by a digit matches; sub() gets re.UNICODE (32) as its count.
    std::string stripped;
    stripped.reserve(out.size());
    int removed = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '.' && removed < 32 && !(i + 1 < out.size() && is_digit(out[i + 1]))) {
            ++removed;
            continue;
        }
        stripped.push_back(out[i]);
    }
    return stripped;
}

std::string process_digit_article(const std::string& in) {
    std::vector<std::string> words;
    for (std::string w : py_split(py_lower(in))) {
        const auto n = number_words().find(w);
        if (n != number_words().end()) w = n->second;
        if (w == "a" || w == "an" || w == "the") continue;
        words.push_back(std::move(w));
    }
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
        const auto c = contractions().find(words[i]);
        out += (i ? " " : "") + (c != contractions().end() ? c->second : words[i]);
    }
    return out;
}

}  // namespace

std::string vqa_normalize_answer(const std::string& answer) {
    std::string a = word_tokenize(answer);
    a = py_strip(replace_all(replace_all(a, "\n", " "), "\t", " "));
    a = process_punctuation(a);
    return process_digit_article(a);
}

double vqa_accuracy(const std::string& prediction, const std::vector<std::string>& references) {
    if (references.empty()) return 0.0;
    const std::string pred = vqa_normalize_answer(prediction);
    std::vector<bool> same;
    size_t matches = 0;
    for (const std::string& r : references) {
        same.push_back(vqa_normalize_answer(r) == pred);
        matches += same.back();
    }
    if (matches == 0) return 0.0;
    // Each reference left out in turn: min(1, matches among the other answers / 3), averaged.
    double sum = 0;
    for (const bool s : same) sum += std::min(1.0, double(matches - (s ? 1 : 0)) / 3.0);
    return sum / double(references.size());
}

}  // namespace bench
}  // namespace rc

// Grammars in the style of llama.cpp's examples (written here, not copied), for the tests.
#pragma once

namespace pocketlm::grammar::testing {

inline constexpr const char* json_gbnf = R"gbnf(# JSON values (RFC 8259), whitespace bounded
root   ::= value
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" (
             [^"\\\x7F\x00-\x1F] |
             "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
           )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws     ::= | " " | "\n" [ \t]{0,20}
)gbnf";

inline constexpr const char* arithmetic_gbnf = R"gbnf(root  ::= (expr "=" ws term "\n")+
expr  ::= term ([-+*/] ws term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]+ ws
ws    ::= [ \t\n]*
)gbnf";

inline constexpr const char* list_gbnf = R"gbnf(root ::= item+
item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n"
)gbnf";

inline constexpr const char* chess_gbnf =
    R"gbnf(root   ::= "1. " move " " move "\n" ([1-9] [0-9]? ". " move " " move "\n")*
move   ::= (pawn | nonpawn | castle) [+#]?
pawn   ::= ([a-h] "x")? [a-h] [1-8] ("=" [NBRQ])?
nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
castle ::= "O-O" "-O"?
)gbnf";

}  // namespace pocketlm::grammar::testing

#!/usr/bin/env escript
%% The Erlang side of the codec round trip. Usage: erl-peer.escript DIR SEED COUNT
%%  - reads DIR/ts.bin (frames written by the TypeScript encoder), decodes each with binary_to_term and writes
%%    term_to_binary of the result to DIR/ts-back.bin (an empty frame when Erlang refuses the bytes);
%%  - writes COUNT random terms of its own to DIR/erl.bin, each twice: plain, then compressed.
%% A frame is a 32-bit big-endian length followed by that many bytes.
-mode(compile).

main([Dir, SeedText, CountText]) ->
    Seed = list_to_integer(SeedText),
    Count = list_to_integer(CountText),
    {ok, In} = file:read_file(filename:join(Dir, "ts.bin")),
    Back = [frame(reencode(B)) || B <- frames(In)],
    ok = file:write_file(filename:join(Dir, "ts-back.bin"), Back),
    _ = rand:seed(exsss, {Seed, Seed * 7 + 1, Seed * 13 + 2}),
    Own = [begin
               T = gen(4),
               [frame(term_to_binary(T)), frame(term_to_binary(T, [compressed]))]
           end
           || _ <- lists:seq(1, Count)],
    ok = file:write_file(filename:join(Dir, "erl.bin"), Own),
    halt(0).

frames(<<Len:32, B:Len/binary, Rest/binary>>) -> [B | frames(Rest)];
frames(<<>>) -> [].

frame(B) -> [<<(byte_size(B)):32>>, B].

reencode(B) ->
    try term_to_binary(binary_to_term(B)) catch error:badarg -> <<>> end.

gen(0) -> scalar();
gen(D) ->
    case rand:uniform(10) of
        N when N =< 4 -> scalar();
        5 -> [gen(D - 1) || _ <- seq(6)];
        6 -> [rand:uniform(256) - 1 || _ <- seq(30)];
        7 -> lists:foldr(fun(X, Acc) -> [X | Acc] end, scalar(), [gen(D - 1) || _ <- lists:seq(0, rand:uniform(3))]);
        8 -> list_to_tuple([gen(D - 1) || _ <- seq(case rand:uniform(20) of 1 -> 300; _ -> 5 end)]);
        _ -> maps:from_list([{gen(D - 1), gen(D - 1)} || _ <- seq(case rand:uniform(8) of 1 -> 40; _ -> 6 end)])
    end.

seq(Max) -> lists:seq(1, rand:uniform(Max + 1) - 1).

scalar() ->
    case rand:uniform(9) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 32) - (1 bsl 31) - 1;
        3 -> sign() * rand:uniform(1 bsl (8 * rand:uniform(case rand:uniform(10) of 1 -> 300; _ -> 12 end)));
        4 -> random_float();
        5 -> list_to_atom(chars(case rand:uniform(20) of 1 -> 255; _ -> 10 end));
        6 -> unicode:characters_to_binary(chars(case rand:uniform(5) of 1 -> 200; _ -> 16 end));
        7 -> << <<(rand:uniform(256) - 1)>> || _ <- seq(80) >>;
        8 -> lists:nth(rand:uniform(3), [nil, true, false]);
        _ -> <<>>
    end.

sign() -> case rand:uniform(2) of 1 -> -1; 2 -> 1 end.

random_float() ->
    Bits = rand:uniform(1 bsl 64) - 1,
    try <<F:64/float>> = <<Bits:64>>, F catch error:{badmatch, _} -> random_float() end.

chars(Max) ->
    Alphabet = lists:nth(rand:uniform(4), ["abcdefghijklmnopqrstuvwxyz_", [233, 252, 255, 223, 192],
                                           [955, 960, 937, 1078], [128512, 128640, 20013, 25991]]),
    [lists:nth(rand:uniform(length(Alphabet)), Alphabet) || _ <- seq(Max)].

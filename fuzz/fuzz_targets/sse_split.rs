//! The SSE rewriter (`gateway::sse`, HTML Living Standard §9.2.6): any split
//! of a stream into chunks gives the same bytes out as the stream in one
//! chunk, whether or not events are rewritten, and a rewrite that changes
//! nothing gives the input back byte for byte.
//! Input: the first byte picks the rewrite, the next four the split points.
#![no_main]

use gatehouse::gateway::sse::SseRewriter;
use libfuzzer_sys::fuzz_target;

fn run(stream: &[u8], cuts: &[usize], mode: u8) -> Vec<u8> {
    let rewrite = move |data: &str| match mode % 3 {
        0 => None,
        1 => Some(data.to_uppercase()),
        _ => (data.len() % 2 == 0).then(|| format!("{{\"n\":{}}}", data.len())),
    };
    let mut r = SseRewriter::new(rewrite);
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts {
        let cut = cut.clamp(at, stream.len());
        out.extend(r.push(&stream[at..cut]));
        at = cut;
    }
    out.extend(r.push(&stream[at..]));
    out.extend(r.finish());
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (mode, stream) = (data[0], &data[5..]);
    let mut cuts: Vec<usize> = data[1..5].iter().map(|b| *b as usize * stream.len() / 255).collect();
    cuts.sort_unstable();
    let whole = run(stream, &[], mode);
    assert_eq!(run(stream, &cuts, mode), whole, "split at {cuts:?}");
    let bytewise: Vec<usize> = (0..stream.len()).collect();
    assert_eq!(run(stream, &bytewise, mode), whole, "one byte at a time");
    if mode % 3 == 0 {
        assert_eq!(whole, stream, "no rewrite, no change");
    }
});

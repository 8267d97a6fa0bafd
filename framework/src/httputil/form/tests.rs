//! Tests of query, form and multipart parsing.

use super::*;

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn query_basic_and_ordering() {
    assert_eq!(
        parse_query(b"a=1&b=2&a=3").unwrap(),
        pairs(&[("a", "1"), ("b", "2"), ("a", "3")])
    );
}

#[test]
fn query_empty_and_blank() {
    assert_eq!(parse_query(b"").unwrap(), vec![]);
    assert_eq!(parse_query(b"&&&").unwrap(), vec![]);
    assert_eq!(
        parse_query(b"a=&b").unwrap(),
        pairs(&[("a", ""), ("b", "")])
    );
    assert_eq!(
        parse_query(b"=v&&=").unwrap(),
        pairs(&[("", "v"), ("", "")])
    );
}

#[test]
fn query_decoding() {
    assert_eq!(
        parse_query(b"a+b=c+d&e%2Bf=%26%3D&x=1=2").unwrap(),
        pairs(&[("a b", "c d"), ("e+f", "&="), ("x", "1=2")])
    );
    // Only `&` separates.
    assert_eq!(parse_query(b"a=1;b=2").unwrap(), pairs(&[("a", "1;b=2")]));
    // Malformed escapes are kept literally.
    assert_eq!(
        parse_query(b"p=100%&q=%2&r=%zz&s=%").unwrap(),
        pairs(&[("p", "100%"), ("q", "%2"), ("r", "%zz"), ("s", "%")])
    );
    assert_eq!(
        parse_query("k=é%C3%A9".as_bytes()).unwrap(),
        pairs(&[("k", "éé")])
    );
}

#[test]
fn query_invalid_utf8_is_an_error() {
    let e = parse_query(b"a=%C3").unwrap_err();
    assert_eq!(
        e.message(),
        "query or form data is not valid UTF-8 after decoding"
    );
    assert!(parse_query(b"%FF=1").is_err());
    assert!(parse_query(b"a=\xff").is_err());
    assert!(parse_query(b"ok=1&bad=%80").is_err());
}

#[test]
fn query_large_input_is_linear() {
    let input = "a=%41&".repeat(200_000);
    let parsed = parse_query(input.as_bytes()).unwrap();
    assert_eq!(parsed.len(), 200_000);
    assert_eq!(parsed[199_999], ("a".to_string(), "A".to_string()));
}

// --- multipart ---------------------------------------------------------------------------

fn file(filename: &str, content_type: &str, body: &[u8]) -> UploadedFile {
    UploadedFile {
        filename: filename.into(),
        content_type: content_type.into(),
        body: body.to_vec(),
    }
}

#[test]
fn multipart_field_and_file_with_crlf_in_body() {
    let body = b"--1234\r\n\
        Content-Disposition: form-data; name=\"title\"\r\n\
        \r\n\
        caf\xc3\xa9\r\n\
        --1234\r\n\
        content-disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\n\
        CONTENT-TYPE: image/png\r\n\
        \r\n\
        \r\nline1\r\n\r\nline2\r\n\r\n\
        --1234--\r\n";
    let m = parse_multipart("1234", body).unwrap();
    assert_eq!(m.fields, pairs(&[("title", "café")]));
    assert_eq!(
        m.files,
        vec![(
            "upload".to_string(),
            file("a.bin", "image/png", b"\r\nline1\r\n\r\nline2\r\n")
        )]
    );
}

#[test]
fn multipart_boundary_like_text_inside_content() {
    let body = b"--b0undary\r\n\
        Content-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n\
        \r\n\
        a--b0undary\r\n\
        \r\n--b0undaryX\r\n\
        \r\n--b0undary-\r\n\
        \r\n--b0undar\r\n\
        \r\n--b0undary x\r\n\
        end\r\n\
        --b0undary--";
    let m = parse_multipart("b0undary", body).unwrap();
    assert_eq!(m.files.len(), 1);
    assert_eq!(
        m.files[0].1.body,
        b"a--b0undary\r\n\r\n--b0undaryX\r\n\r\n--b0undary-\r\n\r\n--b0undar\r\n\r\n--b0undary x\r\nend"
    );
    assert_eq!(m.files[0].1.content_type, "application/octet-stream");
}

#[test]
fn multipart_preamble_epilogue_and_padding() {
    let body = b"This is the preamble.\r\n--xx\r\n\
        Content-Disposition: form-data; name=a\r\n\r\n\
        1\r\n\
        --xx \t\r\n\
        Content-Disposition: form-data; name=b\r\n\r\n\
        2\r\n\
        --xx--  epilogue\r\n--xx\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n--xx--";
    let m = parse_multipart("xx", body).unwrap();
    assert_eq!(m.fields, pairs(&[("a", "1"), ("b", "2")]));
    assert!(m.files.is_empty());
}

#[test]
fn multipart_repeated_names_keep_order() {
    let body = b"--b\r\nContent-Disposition: form-data; name=k\r\n\r\n1\r\n\
        --b\r\nContent-Disposition: form-data; name=k; filename=f1\r\n\r\nF1\r\n\
        --b\r\nContent-Disposition: form-data; name=k\r\n\r\n\r\n\
        --b\r\nContent-Disposition: form-data; name=k; filename=f2\r\n\r\nF2\r\n--b--";
    let m = parse_multipart("b", body).unwrap();
    assert_eq!(m.fields, pairs(&[("k", "1"), ("k", "")]));
    assert_eq!(
        m.files,
        vec![
            (
                "k".to_string(),
                file("f1", "application/octet-stream", b"F1")
            ),
            (
                "k".to_string(),
                file("f2", "application/octet-stream", b"F2")
            ),
        ]
    );
}

#[test]
fn multipart_missing_final_boundary_is_an_error() {
    let cut = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n";
    assert_eq!(
        parse_multipart("b", cut).unwrap_err().message(),
        "multipart body has no final boundary"
    );
    // A truncated close delimiter is not one either.
    let cut = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b";
    assert!(parse_multipart("b", cut).is_err());
    assert_eq!(
        parse_multipart("b", b"").unwrap_err().message(),
        "no multipart boundary found"
    );
    assert!(parse_multipart("b", b"no boundary here").is_err());
    // The other boundary's close does not count.
    assert!(parse_multipart("b", b"--b\r\n\r\nx\r\n--c--").is_err());
}

#[test]
fn multipart_empty_forms() {
    assert_eq!(
        parse_multipart("b", b"--b--").unwrap(),
        Multipart::default()
    );
    assert_eq!(
        parse_multipart("b", b"preamble\r\n--b--\r\n").unwrap(),
        Multipart::default()
    );
}

#[test]
fn multipart_bad_boundaries() {
    assert_eq!(
        parse_multipart("", b"----").unwrap_err().message(),
        "empty multipart boundary"
    );
    assert!(parse_multipart("a\rb", b"--a\rb--").is_err());
    assert!(parse_multipart("a\nb", b"--a\nb--").is_err());
}

#[test]
fn multipart_skips_parts_it_cannot_use() {
    let body = b"--b\r\n\r\nheaderless\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n\
        --b\r\nContent-Disposition: attachment; name=a\r\n\r\nnot form-data\r\n\
        --b\r\nContent-Disposition: form-data\r\n\r\nno name\r\n\
        --b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nempty name\r\n\
        --b\r\nContent-Disposition: form-data; name=x\r\n\
        --b\r\n\
        \r\n--b\r\nContent-Disposition: Form-Data; name=ok\r\n\r\nkept\r\n--b--";
    let m = parse_multipart("b", body).unwrap();
    assert_eq!(m.fields, pairs(&[("ok", "kept")]));
    assert!(m.files.is_empty());
}

#[test]
fn multipart_delimiter_needs_its_own_crlf() {
    // The CRLF before `--b` belongs to the delimiter, so after a delimiter line a second
    // `--b` is the start of the next part's headers, not an empty part.
    let body = b"--b\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
    assert_eq!(
        parse_multipart("b", body).unwrap_err().message(),
        "malformed multipart part header line"
    );
}

#[test]
fn multipart_empty_filename_is_a_field() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n\
        Content-Type: application/octet-stream\r\n\r\n\r\n--b--\r\n";
    let m = parse_multipart("b", body).unwrap();
    assert_eq!(m.fields, pairs(&[("f", "")]));
    assert!(m.files.is_empty());
}

#[test]
fn multipart_filename_star_and_binary_body() {
    let body = b"--b\r\nContent-Disposition: form-data; name=f; filename=\"x\"; \
        filename*=UTF-8''%E2%82%AC.txt\r\nContent-Type:\r\n\r\n\x00\xff\xfe\r\n--b--";
    let m = parse_multipart("b", body).unwrap();
    assert_eq!(
        m.files,
        vec![(
            "f".to_string(),
            file("€.txt", "application/octet-stream", b"\x00\xff\xfe")
        )]
    );
}

#[test]
fn multipart_errors_in_parts() {
    let non_utf8_field = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\xff\r\n--b--";
    assert_eq!(
        parse_multipart("b", non_utf8_field).unwrap_err().message(),
        "multipart field value is not valid UTF-8"
    );
    let non_utf8_head = b"--b\r\nContent-Disposition: form-data; name=\xff\r\n\r\nx\r\n--b--";
    assert!(parse_multipart("b", non_utf8_head).is_err());
    let no_colon = b"--b\r\nContent-Disposition form-data\r\n\r\nx\r\n--b--";
    assert_eq!(
        parse_multipart("b", no_colon).unwrap_err().message(),
        "malformed multipart part header line"
    );
    let folded = b"--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nx\r\n--b--";
    assert!(parse_multipart("b", folded).is_err());
}

#[test]
fn multipart_boundary_helper() {
    assert_eq!(
        multipart_boundary("multipart/form-data; boundary=abc").as_deref(),
        Some("abc")
    );
    assert_eq!(
        multipart_boundary("Multipart/Form-Data; charset=utf-8; Boundary=\"a b:c\"").as_deref(),
        Some("a b:c")
    );
    assert_eq!(
        multipart_boundary("multipart/mixed; boundary=q").as_deref(),
        Some("q")
    );
    assert_eq!(multipart_boundary("multipart/form-data"), None);
    assert_eq!(multipart_boundary("multipart/form-data; boundary="), None);
    assert_eq!(
        multipart_boundary("multipart/form-data; boundary=\"\""),
        None
    );
    assert_eq!(multipart_boundary("application/json; boundary=x"), None);
    assert_eq!(multipart_boundary("é"), None);
}

#[test]
fn multipart_quoted_boundary_end_to_end() {
    let ct = "multipart/form-data; boundary=\"----=_Part;0\"";
    let body = b"------=_Part;0\r\nContent-Disposition: form-data; name=q\r\n\r\nv\r\n------=_Part;0--\r\n";
    let (fields, files) = parse_body_arguments(ct, body).unwrap();
    assert_eq!(fields, pairs(&[("q", "v")]));
    assert!(files.is_empty());
}

#[test]
fn multipart_adversarial_inputs_are_linear() {
    // Many near-miss delimiters, and a long boundary made of dashes.
    let boundary = "-".repeat(70);
    let near_miss = format!("\r\n--{}", "-".repeat(69));
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n");
    body.push_str(&near_miss.repeat(20_000));
    body.push_str(&format!("\r\n--{boundary}--"));
    let m = parse_multipart(&boundary, body.as_bytes()).unwrap();
    assert_eq!(m.files[0].1.body.len(), near_miss.len() * 20_000);

    let crs = "\r".repeat(500_000);
    assert!(parse_multipart("b", crs.as_bytes()).is_err());
    let fake = "\r\n--b x".repeat(100_000);
    assert!(parse_multipart("b", fake.as_bytes()).is_err());
}

#[test]
fn find_bytes_positions() {
    assert_eq!(find_bytes(b"abcabc", b"ca", 0), Some(2));
    assert_eq!(find_bytes(b"abcabc", b"abc", 1), Some(3));
    assert_eq!(find_bytes(b"abc", b"abc", 1), None);
    assert_eq!(find_bytes(b"ab", b"abc", 0), None);
    assert_eq!(find_bytes(b"abc", b"c", 10), None);
    assert_eq!(find_bytes(b"abc", b"", 0), None);
    assert_eq!(find_bytes(b"x\r\r\n\r\n", b"\r\n\r\n", 0), Some(2));
}

// --- parse_body_arguments ----------------------------------------------------------------

#[test]
fn body_arguments_dispatch() {
    let (f, files) =
        parse_body_arguments("Application/X-WWW-Form-Urlencoded", b"a=1&b=%20").unwrap();
    assert_eq!(f, pairs(&[("a", "1"), ("b", " ")]));
    assert!(files.is_empty());

    let body = b"--q\r\nContent-Disposition: form-data; name=a; filename=t.txt\r\n\
        Content-Type: text/plain\r\n\r\nhi\r\n--q--";
    let (f, files) = parse_body_arguments("multipart/form-data; boundary=q", body).unwrap();
    assert!(f.is_empty());
    assert_eq!(
        files,
        vec![("a".to_string(), file("t.txt", "text/plain", b"hi"))]
    );

    for other in [
        "application/json",
        "",
        "text/plain; charset=x",
        "multipart/mixed; boundary=q",
    ] {
        assert_eq!(
            parse_body_arguments(other, b"a=1").unwrap(),
            (vec![], vec![]),
            "{other}"
        );
    }
}

#[test]
fn body_arguments_errors() {
    assert_eq!(
        parse_body_arguments("multipart/form-data", b"--x--")
            .unwrap_err()
            .to_string(),
        "multipart/form-data without a boundary"
    );
    assert!(parse_body_arguments("application/x-www-form-urlencoded", b"a=%ff").is_err());
    assert!(parse_body_arguments("multipart/form-data; boundary=x", b"--x\r\n").is_err());
}

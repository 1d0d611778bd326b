// In-VM: byte-for-byte vectors of azure-iot-protocol.md section 2 and the encoders under them.
import { describe, expect, test } from "@devicescript/test"
import { yieldBetweenTests } from "./vm-yield"
import { base64Decode, base64Encode } from "../../src/encoding/base64"
import { urlDecode, urlEncode } from "../../src/encoding/url"
import { jsonQuote } from "../../src/encoding/json"
import { textSplit, textTrim } from "../../src/encoding/text"
import { JsonSource, jsonParseBounded } from "../../src/encoding/json-bounds"
import { logClipBytes } from "../../src/log-text"
import { sasBuildDpsToken, sasBuildHubToken, sasBuildToken, sasDeriveDeviceKey, sasSign } from "../../src/sas"

const GROUP_KEY = "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw=="
const REG_ID = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6"
const DERIVED = "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc="
const SE = 1893456000

describe("base64", () => {
    yieldBetweenTests()
    test("RFC 4648 vectors", () => {
        const cases = ["", "f", "fo", "foo", "foob", "fooba", "foobar"]
        const want = ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"]
        for (let i = 0; i < cases.length; i++) {
            expect(base64Encode(Buffer.from(cases[i]))).toBe(want[i])
            expect(base64Decode(want[i]).toString("utf-8")).toBe(cases[i])
        }
    })
    test("binary round trip", () => {
        const b = Buffer.alloc(256)
        for (let i = 0; i < 256; i++) b[i] = 255 - i
        const back = base64Decode(base64Encode(b))
        expect(back.length).toBe(256)
        for (let i = 0; i < 256; i++) expect(back[i]).toBe(255 - i)
    })
    test("rejects malformed input", () => {
        expect(() => base64Decode("abc")).toThrow()
        expect(() => base64Decode("ab$=")).toThrow()
        expect(() => base64Decode("a=bc")).toThrow()
    })
})

describe("percent-encoding", () => {
    yieldBetweenTests()
    test("reserved characters and UTF-8", () => {
        expect(urlEncode("a/b:c?d=e&f+g#h")).toBe("a%2Fb%3Ac%3Fd%3De%26f%2Bg%23h")
        expect(urlEncode("A-z_0.9~")).toBe("A-z_0.9~")
        expect(urlEncode("é ")).toBe("%C3%A9%20")
        expect(urlEncode("$.ct")).toBe("%24.ct")
    })
    test("decodes either case, rejects broken escapes", () => {
        expect(urlDecode("%2fa%2Fb%C3%A9")).toBe("/a/bé")
        expect(() => urlDecode("%2")).toThrow()
        expect(() => urlDecode("%zz")).toThrow()
    })
})

describe("text", () => {
    yieldBetweenTests()
    test("split gives String.split's pieces, empty ones included", () => {
        expect(textSplit("a&b=c&&d", "&").join("|")).toBe("a|b=c||d")
        expect(textSplit("", "&").length).toBe(1)
        expect(textSplit("x\r\ny\r\n", "\r\n").join("|")).toBe("x|y|")
    })
    test("trim drops ASCII spaces and controls at both ends only", () => {
        expect(textTrim(" \t host:1 \r\n")).toBe("host:1")
        expect(textTrim("   ")).toBe("")
        expect(textTrim("a b")).toBe("a b")
    })
})

describe("json", () => {
    yieldBetweenTests()
    test("quotes and escapes", () => {
        expect(jsonQuote('a"b\\c\n')).toBe('"a\\"b\\\\c\\u000a"')
        expect(jsonQuote("é")).toBe('"é"')
    })
})

function nested(depth: number): Buffer {
    let open = ""
    let close = ""
    for (let i = 0; i < depth; i++) {
        open += '{"a":'
        close += "}"
    }
    return Buffer.from(open + "1" + close)
}

const LIMITS = { maxBytes: 8192, maxDepth: 16, maxValues: 256 }

/** A document alone in its buffer. */
function whole(b: Buffer): JsonSource {
    return { body: b, payloadStart: 0 }
}

describe("json within limits", () => {
    yieldBetweenTests()
    test("parses a document at the depth limit, refuses one level more", async () => {
        const ok = await jsonParseBounded(whole(nested(16)), LIMITS)
        expect(ok.error).toBe(null)
        expect(ok.value.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a).toBe(1)
        expect((await jsonParseBounded(whole(nested(17)), LIMITS)).error).toBe("nested deeper than 16 levels")
    })
    test("refuses nesting a thousand deep without crashing the VM", async () => {
        const r = await jsonParseBounded(whole(nested(1000)), { maxBytes: 8192, maxDepth: 16, maxValues: 256 })
        expect(r.error).toBe("nested deeper than 16 levels")
        const arrays = Buffer.alloc(3000)
        arrays.fillAt(0, 3000, 91)
        expect((await jsonParseBounded(whole(arrays), LIMITS)).error).toBe("nested deeper than 16 levels")
    })
    test("brackets, commas and escaped quotes inside strings do not count", async () => {
        const r = await jsonParseBounded(whole(Buffer.from('{"k":"[[[[{{{{,,,,\\"[[[[","n":[1,2]}')), { maxBytes: 100, maxDepth: 2, maxValues: 6 })
        expect(r.error).toBe(null)
        expect(r.value.n[1]).toBe(2)
    })
    test("refuses too many values, too many bytes, and text that is not JSON", async () => {
        let many = "["
        for (let i = 0; i < 300; i++) many += "0,"
        many += "0]"
        expect((await jsonParseBounded(whole(Buffer.from(many)), LIMITS)).error).toBe("more than 256 values")
        expect((await jsonParseBounded(whole(Buffer.alloc(9000)), LIMITS)).error).toBe("9000 bytes, more than 8192")
        expect((await jsonParseBounded(whole(Buffer.from('{"a":')), LIMITS)).error).toBe("not valid JSON")
        expect((await jsonParseBounded(whole(Buffer.from("")), LIMITS)).error).toBe("not valid JSON")
    })
    test("scans 8 KB in slices without tripping the VM's loop guard", async () => {
        const big = Buffer.alloc(8190)
        big.fillAt(0, 8190, 32)
        big[0] = 34
        big[8188] = 34
        const r = await jsonParseBounded(whole(big), LIMITS)
        expect(r.error).toBe(null)
        expect(r.value.length).toBe(8187)
    })
    test("reads the document after a header in the same buffer, and takes the buffer once it has the text", async () => {
        // As in a PUBLISH body: topic length, a topic with brackets, packet id, then the document.
        const head = Buffer.from("\u0000\u0005[[{,x\u0000\u0007")
        const msg: JsonSource = { body: head.concat(Buffer.from('{"n":[1,2]}')), payloadStart: head.length }
        const r = await jsonParseBounded(msg, { maxBytes: 11, maxDepth: 2, maxValues: 4 })
        expect(r.error).toBe(null)
        expect(r.value.n[1]).toBe(2)
        expect(msg.body).toBe(null)
        const over = { body: head.concat(Buffer.from('{"n":[1,2] }')), payloadStart: head.length }
        expect((await jsonParseBounded(over, { maxBytes: 11, maxDepth: 2, maxValues: 4 })).error).toBe("12 bytes, more than 11")
    })
})

describe("log text", () => {
    yieldBetweenTests()
    test("a payload clipped in bytes from where it starts", () => {
        const b = Buffer.from("..hello world")
        expect(logClipBytes(b, 2, 11)).toBe("hello world")
        expect(logClipBytes(b, 2, 5)).toBe("hello...(11 bytes)")
        expect(logClipBytes(b, 13, 5)).toBe("")
    })
})

describe("sas", () => {
    yieldBetweenTests()
    test("group enrollment key derivation", () => {
        expect(sasDeriveDeviceKey(GROUP_KEY, REG_ID)).toBe(DERIVED)
    })
    test("DPS token", () => {
        expect(sasBuildDpsToken("0ne00000A0A", REG_ID, DERIVED, SE)).toBe(
            "SharedAccessSignature sr=0ne00000A0A/registrations/" +
                REG_ID +
                "&sig=qpIsrloi8Jvjr6VNlLd1Nyl5psB5KmjNgq%2FDdK0dP4Y%3D&skn=registration&se=1893456000"
        )
    })
    test("hub token", () => {
        expect(sasBuildHubToken("contoso.azure-devices.net", REG_ID, DERIVED, SE)).toBe(
            "SharedAccessSignature sr=contoso.azure-devices.net%2Fdevices%2F" + REG_ID + "&sig=pfFrkV5hapK3r7irQpcafnu9CT7Qayzc7xdjcvEJR%2Bw%3D&se=1893456000"
        )
    })
    test("module token", () => {
        expect(sasBuildToken(urlEncode("contoso.azure-devices.net/devices/dev1/modules/mod1"), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", SE)).toBe(
            "SharedAccessSignature sr=contoso.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod1" +
                "&sig=qlZoHzU3fhemQiB7UbAzmWuvSCqTaAV0to0yy%2FQgQoU%3D&se=1893456000"
        )
    })
    test("C-SDK style lower-case %2f resource", () => {
        expect(urlEncode(sasSign(DERIVED, "0ne00000A0A%2fregistrations%2f" + REG_ID, SE))).toBe("Ftn5QKUtT2hR5dOiEsitm1UvvDZqKKXLu%2FdyVyNhXoA%3D")
    })
})

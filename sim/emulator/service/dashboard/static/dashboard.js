// The local IoT Explorer: signs every request with a SAS token of the service policy derived here,
// in the browser (WebCrypto HMAC-SHA256), from the pasted service connection string. The key is
// imported as a non-extractable CryptoKey and kept in memory only: never in a URL, cookie or storage.
const POINTS_KEPT = 60
const TOKEN_LIFETIME_SEC = 3600
const STREAM_RETRY_MS = 2000

const S = {
    /** { hostName, keyName, key: CryptoKey } */
    credential: null,
    token: null,
    tokenExpiry: 0,
    overview: null,
    selected: null,
    /** deviceId -> [{ seq, time, values: {field: number} }], oldest first */
    series: new Map(),
    activity: [],
    refreshTimer: null,
    following: false,
}

const $ = (id) => document.getElementById(id)

/** An element with attributes (`class`, `data-*`, handlers as `on*` functions) and children (text or nodes). */
function el(tag, attrs, ...children) {
    const e = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null) continue
        if (k.startsWith("on")) e.addEventListener(k.slice(2), v)
        else e.setAttribute(k, v)
    }
    for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c))
    return e
}

function svg(tag, attrs, ...children) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag)
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v)
    for (const c of children) e.append(c instanceof Node ? c : String(c))
    return e
}

function table(headers, rows) {
    if (!rows.length) return el("p", { class: "muted" }, "none")
    return el(
        "table",
        {},
        el(
            "thead",
            {},
            el(
                "tr",
                {},
                headers.map((h) => el("th", {}, h))
            )
        ),
        el("tbody", {}, rows)
    )
}

const badge = (text, kind) => el("span", { class: `badge ${kind || text}` }, text)
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—")

// --- credentials -------------------------------------------------------------------------------

function parseConnectionString(text) {
    const fields = {}
    for (const part of text.trim().split(";").filter(Boolean)) {
        const eq = part.indexOf("=")
        if (eq <= 0) throw new Error(`"${part}" is not Name=value`)
        fields[part.slice(0, eq).toLowerCase()] = part.slice(eq + 1)
    }
    const { hostname, sharedaccesskeyname, sharedaccesskey } = fields
    if (!hostname || !sharedaccesskeyname || !sharedaccesskey) throw new Error("needs HostName, SharedAccessKeyName and SharedAccessKey")
    return { hostName: hostname, keyName: sharedaccesskeyname, keyBase64: sharedaccesskey }
}

const base64ToBytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
const bytesToBase64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))

async function importCredential(text) {
    const cs = parseConnectionString(text)
    if (!window.crypto || !crypto.subtle) throw new Error("this page needs WebCrypto (a secure context: https or localhost)")
    let bytes
    try {
        bytes = base64ToBytes(cs.keyBase64)
    } catch {
        throw new Error("SharedAccessKey is not base64")
    }
    const key = await crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
    return { hostName: cs.hostName, keyName: cs.keyName, key }
}

/** `SharedAccessSignature sr=<url-encoded host>&sig=...&se=...&skn=...`, as the service SDKs write it; renewed before it expires. */
async function authorization() {
    const now = Math.floor(Date.now() / 1000)
    if (S.token && S.tokenExpiry - now > 300) return S.token
    const c = S.credential
    const se = now + TOKEN_LIFETIME_SEC
    const sr = encodeURIComponent(c.hostName)
    const sig = await crypto.subtle.sign("HMAC", c.key, new TextEncoder().encode(`${sr}\n${se}`))
    S.token = `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(bytesToBase64(sig))}&se=${se}&skn=${encodeURIComponent(c.keyName)}`
    S.tokenExpiry = se
    return S.token
}

async function api(method, path, body) {
    const headers = { Authorization: await authorization() }
    if (body !== undefined) headers["Content-Type"] = "application/json"
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" })
    const text = await res.text()
    const json = text ? JSON.parse(text) : undefined
    if (!res.ok) throw new Error(`${res.status}${json?.errorCode ? ` (${json.errorCode})` : ""}: ${json ? json.message : res.statusText}`)
    return json
}

const enc = encodeURIComponent

// --- live stream ---------------------------------------------------------------------------------

async function follow() {
    for (;;) {
        try {
            const res = await fetch("/dashboard/api/stream", { headers: { Authorization: await authorization() }, cache: "no-store" })
            if (!res.ok) throw new Error(`stream answered ${res.status}`)
            setLive(true)
            const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
            let buffered = ""
            for (;;) {
                const { value, done } = await reader.read()
                if (done) break
                buffered += value
                for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
                    const line = buffered.slice(0, nl)
                    buffered = buffered.slice(nl + 1)
                    if (line.trim()) onEvent(JSON.parse(line))
                }
            }
        } catch (e) {
            log(`stream: ${e.message}`)
        }
        setLive(false)
        await new Promise((r) => setTimeout(r, STREAM_RETRY_MS))
    }
}

function setLive(on) {
    const b = $("live")
    b.textContent = on ? "live" : "reconnecting"
    b.className = `badge ${on ? "on" : "off"}`
}

function onEvent(e) {
    if (e.event === "ready") return scheduleRefresh()
    if (e.event === "hub.telemetry") {
        addPoint(e.message)
        if (e.message.deviceId === S.selected) renderChart()
        return
    }
    log(e.text)
    scheduleRefresh()
}

function log(text) {
    S.activity.unshift(`${new Date().toLocaleTimeString()} ${text}`)
    S.activity.length = Math.min(S.activity.length, 100)
    $("activity").replaceChildren(...S.activity.map((t) => el("li", {}, t)))
}

/** Many events come in bursts (connect, twin, C2D): one refresh for each burst. */
function scheduleRefresh() {
    clearTimeout(S.refreshTimer)
    S.refreshTimer = setTimeout(() => refresh().catch((e) => log(`refresh: ${e.message}`)), 150)
}

// --- views ---------------------------------------------------------------------------------------

async function refresh() {
    S.overview = await api("GET", "/dashboard/api/overview")
    renderHubs()
    renderEdges()
    renderDps()
    if (S.selected) await refreshTwin()
}

function deviceRow(d) {
    return el(
        "tr",
        { class: `device${d.deviceId === S.selected ? " selected" : ""}`, "data-device": d.deviceId, onclick: () => selectDevice(d.deviceId) },
        el("td", {}, d.deviceId, d.iotEdge ? " (IoT Edge)" : ""),
        el("td", {}, badge(d.connectionState)),
        el("td", {}, when(d.connectionStateUpdatedTimeUtc)),
        el("td", {}, badge(d.status, d.status === "enabled" ? "on" : "disabled")),
        el("td", {}, d.authenticationType),
        el("td", {}, d.parent || "—"),
        el("td", {}, d.cloudToDeviceMessageCount),
        el("td", {}, when(d.lastActivityTimeUtc))
    )
}

function renderHubs() {
    const { hubs, devices } = S.overview
    $("hubs").replaceChildren(
        ...hubs.map((hub) =>
            el(
                "div",
                { class: "hub", "data-hub": hub },
                el("h3", {}, hub),
                table(
                    ["device", "state", "since", "status", "authentication", "parent", "C2D pending", "last activity"],
                    devices.filter((d) => d.hub === hub).map(deviceRow)
                )
            )
        )
    )
}

function renderEdges() {
    const { edges, devices } = S.overview
    const state = (id) => devices.find((d) => d.deviceId === id)?.connectionState || "unknown"
    $("edges").replaceChildren(
        table(
            ["edge device", "hub", "gateway host name", "state", "uplink", "stored messages", "children", ""],
            edges.map((e) =>
                el(
                    "tr",
                    { "data-edge": e.edgeId },
                    el("td", {}, e.edgeId),
                    el("td", {}, e.hub),
                    el("td", {}, e.hostName),
                    el("td", {}, badge(state(e.edgeId))),
                    el("td", {}, badge(e.uplinkUp ? "up" : "down")),
                    el("td", {}, e.storedMessages),
                    el("td", {}, e.children.length ? e.children.map((c) => el("span", { class: "child" }, c, " ", badge(state(c)), " ")) : "—"),
                    el(
                        "td",
                        {},
                        el(
                            "button",
                            { class: "uplink", onclick: () => act(() => api("PUT", `/edges/${enc(e.edgeId)}/uplink`, { up: !e.uplinkUp })) },
                            e.uplinkUp ? "Take uplink down" : "Bring uplink up"
                        )
                    )
                )
            )
        )
    )
}

function renderDps() {
    const { hubs, enrollments, registrations, certificates } = S.overview
    $("enrollments").replaceChildren(
        table(
            ["kind", "id", "device id", "attestation", "allocation", "hub", "enabled", ""],
            enrollments.map((e) =>
                el(
                    "tr",
                    { "data-kind": e.kind, "data-enrollment": e.id },
                    el("td", {}, e.kind),
                    el("td", {}, e.id),
                    el("td", {}, e.deviceId || "—"),
                    el("td", {}, e.attestation),
                    el("td", {}, e.allocationPolicy),
                    el("td", {}, e.iotHubHostName),
                    el("td", {}, badge(e.enabled ? "enabled" : "disabled", e.enabled ? "on" : "disabled")),
                    el(
                        "td",
                        {},
                        e.attestation === "symmetricKey" ? el("button", { class: "show-keys", onclick: () => showKeys(e) }, "Show keys") : undefined,
                        " ",
                        el("button", { class: "delete", onclick: () => deleteEnrollment(e) }, "Delete")
                    )
                )
            )
        )
    )
    const hub = $("enroll-hub")
    const chosen = hub.value
    hub.replaceChildren(hub.options[0], ...hubs.map((h) => el("option", { value: h }, h)))
    hub.value = hubs.includes(chosen) ? chosen : ""
    $("registrations").replaceChildren(
        table(
            ["registration id", "enrollment", "attestation", "status", "device id", "hub", "substatus", "updated"],
            registrations.map((r) =>
                el(
                    "tr",
                    { "data-registration": r.registrationId },
                    el("td", {}, r.registrationId),
                    el("td", {}, `${r.enrollmentKind} ${r.enrollmentId}`),
                    el("td", {}, r.attestationType),
                    el("td", {}, badge(r.status), r.errorMessage ? ` ${r.errorMessage}` : ""),
                    el("td", {}, r.deviceId || "—"),
                    el("td", {}, r.assignedHub || "—"),
                    el("td", {}, r.substatus || "—"),
                    el("td", {}, when(r.lastUpdatedDateTimeUtc))
                )
            )
        )
    )
    $("certificates").replaceChildren(
        table(
            ["name", "subject", "SHA-1 thumbprint", "verified", "expiry", ""],
            certificates.map((c) =>
                el(
                    "tr",
                    { "data-certificate": c.name },
                    el("td", {}, c.name),
                    el("td", {}, c.subject),
                    el("td", {}, c.thumbprint),
                    el("td", {}, badge(c.isVerified ? "verified" : "unverified")),
                    el("td", {}, when(c.expiry)),
                    el(
                        "td",
                        {},
                        el("button", { class: "generate-code", onclick: () => generateCode(c.name) }, "Generate verification code"),
                        " ",
                        el(
                            "button",
                            {
                                class: "delete",
                                onclick: () => confirm(`Delete CA certificate ${c.name}?`) && act(() => api("DELETE", `/certificates/${enc(c.name)}`)),
                            },
                            "Delete"
                        )
                    )
                )
            )
        )
    )
}

async function generateCode(name) {
    try {
        const r = await api("POST", `/certificates/${enc(name)}/generateVerificationCode`)
        $("verify-name").value = name
        result("ca-result", `verification code for ${name}: `, el("code", { id: "verification-code" }, r.verificationCode))
    } catch (e) {
        result("ca-result", e.message, undefined, true)
    }
}

const enrollmentPath = (e) => `/dashboard/api/enrollments/${e.kind}/${enc(e.id)}`
const enrollmentName = (e) => `${e.kind === "group" ? "enrollment group" : "enrollment"} ${e.id}`

/** The keys leave the emulator only on this explicit request, as DPS's attestationmechanism call. */
function showKeys(e) {
    report("enrollment-result", async () => {
        const { symmetricKey } = await api("GET", `${enrollmentPath(e)}/keys`)
        const keys = el(
            "span",
            {},
            "primary ",
            el("code", { id: "enrollment-primary-key" }, symmetricKey.primaryKey),
            " secondary ",
            el("code", { id: "enrollment-secondary-key" }, symmetricKey.secondaryKey),
            " ",
            el("button", { onclick: () => result("enrollment-result", "") }, "Hide")
        )
        return { text: `keys of ${enrollmentName(e)}: `, node: keys }
    })
}

function deleteEnrollment(e) {
    if (!confirm(`Delete ${enrollmentName(e)}?`)) return
    report("enrollment-result", async () => {
        await api("DELETE", enrollmentPath(e))
        scheduleRefresh()
        return { text: `deleted ${enrollmentName(e)}` }
    })
}

/** Shows the fields the chosen kind and attestation take. */
function enrollmentFields() {
    const x509 = $("enroll-attestation").value === "x509"
    $("enroll-device-field").hidden = $("enroll-kind").value !== "individual"
    $("enroll-key-fields").hidden = x509
    $("enroll-cert-field").hidden = !x509
}

/** The form as DPS's IndividualEnrollment or EnrollmentGroup body; empty keys are generated by DPS. */
async function createEnrollment() {
    const e = { kind: $("enroll-kind").value, id: $("enroll-id").value.trim() }
    if (!e.id) throw new Error(e.kind === "group" ? "the group needs a name" : "the enrollment needs a registration ID")
    const certificate = { certificate: $("enroll-cert").value }
    const x509 = e.kind === "individual" ? { clientCertificates: { primary: certificate } } : { signingCertificates: { primary: certificate } }
    const attestation =
        $("enroll-attestation").value === "x509"
            ? { type: "x509", x509 }
            : { type: "symmetricKey", symmetricKey: { primaryKey: $("enroll-primary").value.trim(), secondaryKey: $("enroll-secondary").value.trim() } }
    await api("POST", enrollmentPath(e), {
        deviceId: e.kind === "individual" ? $("enroll-device").value.trim() : undefined,
        attestation,
        iotHubHostName: $("enroll-hub").value,
        provisioningStatus: $("enroll-enabled").checked ? "enabled" : "disabled",
    })
    for (const id of ["enroll-id", "enroll-device", "enroll-primary", "enroll-secondary", "enroll-cert"]) $(id).value = ""
    scheduleRefresh()
    return { text: `created ${enrollmentName(e)}` }
}

/** Runs a change; the stream's events refresh the views, and this refresh covers changes that emit none. */
async function act(f) {
    try {
        await f()
    } catch (e) {
        log(`error: ${e.message}`)
    }
    scheduleRefresh()
}

function result(id, text, node, isError) {
    const p = $(id)
    p.className = `result${isError ? " error" : ""}`
    p.replaceChildren(text, ...(node ? [node] : []))
}

// --- one device ----------------------------------------------------------------------------------

/** Shows one device; choosing the one shown again keeps what was typed into its forms. */
async function selectDevice(id) {
    if (id === S.selected) return
    S.selected = id
    $("device-section").hidden = false
    delete $("device-section").dataset.loaded
    $("device-title").textContent = id
    for (const tr of document.querySelectorAll("tr.device")) tr.classList.toggle("selected", tr.dataset.device === id)
    try {
        const retained = await api("GET", `/dashboard/api/telemetry/${enc(id)}`)
        S.series.set(id, [])
        for (const m of retained) addPoint(m)
    } catch (e) {
        log(`telemetry: ${e.message}`)
    }
    renderChart()
    await refreshTwin(true)
    if (id === S.selected) $("device-section").dataset.loaded = id
}

async function refreshTwin(fillDesired) {
    const id = S.selected
    try {
        const twin = await api("GET", `/twins/${enc(id)}`)
        if (id !== S.selected) return
        $("reported").textContent = JSON.stringify(withoutMetadata(twin.properties.reported), null, 2)
        if (fillDesired) $("desired").value = JSON.stringify(withoutMetadata(twin.properties.desired))
    } catch (e) {
        $("reported").textContent = e.message
    }
}

function withoutMetadata(o) {
    return Object.fromEntries(Object.entries(o || {}).filter(([k]) => !k.startsWith("$")))
}

function addPoint(m) {
    let body
    try {
        body = JSON.parse(m.body)
    } catch {
        return
    }
    if (!body || typeof body !== "object") return
    const values = {}
    for (const [k, v] of Object.entries(body)) if (typeof v === "number" && Number.isFinite(v)) values[k] = v
    if (!Object.keys(values).length) return
    const points = S.series.get(m.deviceId) || []
    if (points.some((p) => p.seq === m.sequenceNumber)) return
    points.push({ seq: m.sequenceNumber, time: m.enqueuedTimeUtc, values })
    if (points.length > POINTS_KEPT) points.splice(0, points.length - POINTS_KEPT)
    S.series.set(m.deviceId, points)
}

/** One small chart per numeric field of the JSON body, each on its own scale, over the time of the last POINTS_KEPT messages. */
function renderChart() {
    const points = S.series.get(S.selected) || []
    const fields = [...new Set(points.flatMap((p) => Object.keys(p.values)))]
    if (!fields.length) return $("chart").replaceChildren(el("p", { class: "muted" }, "no JSON telemetry with numbers yet"))
    const W = 300,
        H = 120,
        L = 34,
        R = 6,
        T = 16,
        B = 16
    $("chart").replaceChildren(
        ...fields.map((f) => {
            const pts = points.filter((p) => f in p.values)
            const vs = pts.map((p) => p.values[f])
            let lo = Math.min(...vs),
                hi = Math.max(...vs)
            if (lo === hi) {
                lo -= 1
                hi += 1
            }
            const t0 = Date.parse(pts[0].time),
                span = Date.parse(pts[pts.length - 1].time) - t0
            const x = (i) => L + (span > 0 ? ((Date.parse(pts[i].time) - t0) * (W - L - R)) / span : (W - L - R) / 2)
            const y = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo)
            const last = pts[pts.length - 1]
            return el(
                "div",
                { class: "series", "data-field": f },
                svg(
                    "svg",
                    { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": `${f} telemetry` },
                    svg("text", { x: L, y: 11, class: "title" }, `${f}: ${last.values[f]}`),
                    svg("text", { x: 2, y: T + 4 }, round(hi)),
                    svg("text", { x: 2, y: H - B }, round(lo)),
                    svg("text", { x: L, y: H - 3 }, new Date(pts[0].time).toLocaleTimeString()),
                    svg("text", { x: W - R, y: H - 3, "text-anchor": "end" }, new Date(last.time).toLocaleTimeString()),
                    svg("polyline", { points: pts.map((p, i) => `${x(i).toFixed(1)},${y(p.values[f]).toFixed(1)}`).join(" ") }),
                    ...pts.map((p, i) =>
                        svg(
                            "circle",
                            { class: "point", cx: x(i).toFixed(1), cy: y(p.values[f]).toFixed(1), r: 2, "data-seq": p.seq, "data-value": p.values[f] },
                            svg("title", {}, `#${p.seq} ${f} = ${p.values[f]}`)
                        )
                    )
                )
            )
        })
    )
}

const round = (v) => String(Math.round(v * 100) / 100)

function parseProps(text) {
    const out = {}
    for (const pair of text.split(/[;&]/).filter(Boolean)) {
        const eq = pair.indexOf("=")
        if (eq <= 0) throw new Error(`"${pair}" is not k=v`)
        out[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    return out
}

function parseJsonField(id, what) {
    try {
        return JSON.parse($(id).value || "null")
    } catch {
        throw new Error(`${what} is not JSON`)
    }
}

/** Runs an action whose outcome (`{text, node?}`, or the error) shows in `resultId`, "…" until it answers. */
async function report(resultId, f) {
    result(resultId, "…")
    try {
        const r = await f()
        result(resultId, r.text, r.node)
    } catch (e) {
        result(resultId, e.message, undefined, true)
    }
}

/** Binds a button to an action whose outcome shows in `resultId`. */
function bind(buttonId, resultId, f) {
    $(buttonId).addEventListener("click", async () => {
        const b = $(buttonId)
        b.disabled = true
        await report(resultId, f)
        b.disabled = false
    })
}

function wire() {
    $("signin").addEventListener("submit", async (ev) => {
        ev.preventDefault()
        const input = $("connection-string")
        $("signin-error").hidden = true
        try {
            S.credential = await importCredential(input.value)
            S.token = null
            await refresh()
        } catch (e) {
            S.credential = null
            $("signin-error").textContent = `Not connected: ${e.message}`
            $("signin-error").hidden = false
            return
        }
        input.value = ""
        input.placeholder = `signed in to ${S.credential.hostName} as ${S.credential.keyName}`
        $("app").hidden = false
        if (!S.following) {
            S.following = true
            follow()
        }
    })
    bind("desired-send", "desired-result", async () => {
        const desired = parseJsonField("desired", "the desired patch")
        if (!desired || typeof desired !== "object" || Array.isArray(desired)) throw new Error("the desired patch must be a JSON object")
        const twin = await api("PATCH", `/twins/${enc(S.selected)}`, { properties: { desired } })
        return { text: `desired version ${twin.properties.desired.$version}` }
    })
    bind("method-invoke", "method-result", async () => {
        const payload = parseJsonField("method-payload", "the payload")
        const r = await api("POST", `/twins/${enc(S.selected)}/methods`, {
            methodName: $("method-name").value.trim(),
            payload,
            responseTimeoutInSeconds: Number($("method-timeout").value),
        })
        return { text: `status ${r.status}\n${JSON.stringify(r.payload, null, 2)}` }
    })
    bind("c2d-send", "c2d-result", async () => {
        const r = await api("POST", `/devices/${enc(S.selected)}/messages/deviceBound`, {
            data: $("c2d-body").value,
            properties: parseProps($("c2d-props").value),
        })
        return { text: `queued as ${r.messageId}` }
    })
    $("enroll-kind").addEventListener("change", enrollmentFields)
    $("enroll-attestation").addEventListener("change", enrollmentFields)
    bind("enroll-create", "enrollment-result", createEnrollment)
    bind("ca-upload", "ca-result", async () => {
        const c = await api("PUT", `/certificates/${enc($("ca-name").value.trim())}`, { certificate: $("ca-pem").value })
        scheduleRefresh()
        return { text: `uploaded ${c.name} (${c.isVerified ? "verified" : "unverified"})` }
    })
    bind("verify-send", "ca-result", async () => {
        const c = await api("POST", `/certificates/${enc($("verify-name").value.trim())}/verify`, { certificate: $("verify-pem").value })
        scheduleRefresh()
        return { text: `${c.name} is ${c.isVerified ? "verified" : "not verified"}` }
    })
}

document.addEventListener("DOMContentLoaded", wire)

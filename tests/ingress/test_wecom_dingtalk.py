"""企业微信 WeCom and 钉钉 DingTalk encrypted callbacks against the published sample-code vectors.

Sources (fixtures/vendors/wecom/SOURCES.md, fixtures/vendors/dingtalk/SOURCES.md):
- A: sbzhu/weworkapi_python callback/Sample.py @27220fbe (XML mode; token hJqcu3uJ..., CorpID ww1436e0e65a779aee)
- B: workweixin/weworkapi_golang json_callback/sample.go @c1fdfd3d (JSON mode; token QDG6eK, wx5823bf96d3bd56c7)
- open-dingtalk/DingTalk-Callback-Crypto DingCallbackCrypto3.py @07dca6d0 (token mryue, ding6ccabc44d2c8d38b)
The samples publish inputs and signatures, not plaintexts; the plaintexts asserted below are
fully determined by them (A's equals the sample's own sRespData).
"""

from __future__ import annotations

import json

import pytest

from chalicelib.ingress.verify import MalformedRequest, SignatureError, callback_crypto, make_verifier
from tests.ingress.conftest import TableSecrets, at, config, request, vendor_bytes

A = {"token": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "key": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "corp": "ww1436e0e65a779aee"}
B = {"token": "QDG6eK", "key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "corp": "wx5823bf96d3bd56c7"}
A_XML_BODY = vendor_bytes("wecom/callback_post_body_xml.xml")
B_JSON_BODY = vendor_bytes("wecom/callback_post_body_json.json")


def wecom(*sets, receive_ids=None, **extra):
    values, credentials = {}, []
    for i, s in enumerate(sets):
        values[f"T{i}"], values[f"K{i}"] = s["token"], s["key"]
        credentials.append({"token": {"env": f"T{i}"}, "encoding_aes_key": {"env": f"K{i}"}})
    section = {"scheme": "wecom", "credentials": credentials, "receive_ids": receive_ids or [sets[0]["corp"]], **extra}
    return make_verifier(config(section), TableSecrets(values))


def test_wecom_xml_url_verification_vector_a():
    query = {
        "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
        "timestamp": "1476416373",
        "nonce": "47744683",
        "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
    }
    delivery = wecom(A).verify(request(b"", method="GET", query=query, received_at=at(1476416373)))
    assert delivery.handshake and delivery.reply.body == b"1288432023552776189"


def test_wecom_xml_message_vector_a():
    query = {"msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "timestamp": "1476422779", "nonce": "1597212914"}
    delivery = wecom(A).verify(request(A_XML_BODY, query=query, received_at=at(1476422779 + 2)))
    assert delivery.media_type == "application/xml"
    assert delivery.body.decode() == (
        "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime>"
        "<MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
    )
    assert delivery.reply.body == b""


def test_wecom_json_vectors_b_with_rotation():
    get = {
        "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "timestamp": "1409659589",
        "nonce": "263014780",
        "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
    }
    verifier = wecom(A, B, receive_ids=[A["corp"], B["corp"]])  # B listed second: the "previous" credential
    echo = verifier.verify(request(b"", method="GET", query=get, received_at=at(1409659589)))
    assert echo.reply.body == b"1616140317555161061" and echo.secret_index == 1
    post = {"msg_signature": "0623cbc5a8cbee5bcc137c70de99575366fc2af3", "timestamp": "1409659813", "nonce": "1372623149"}
    delivery = verifier.verify(request(B_JSON_BODY, query=post, received_at=at(1409659813)))
    assert delivery.media_type == "application/json" and json.loads(delivery.body)["Content"] == "hello"


def test_wecom_forged_signature_stale_and_wrong_receiver():
    query = {"msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "timestamp": "1476422779", "nonce": "1597212914"}
    with pytest.raises(SignatureError) as err:
        wecom(A).verify(request(A_XML_BODY, query=query | {"nonce": "1"}, received_at=at(1476422779)))
    assert err.value.reason == "bad_signature"
    with pytest.raises(SignatureError) as err:
        wecom(A).verify(request(A_XML_BODY, query=query, received_at=at(1476422779 + 301)))
    assert err.value.reason == "timestamp_outside_window"
    with pytest.raises(SignatureError) as err:
        wecom(A, receive_ids=["ww-another-corp"]).verify(request(A_XML_BODY, query=query, received_at=at(1476422779)))
    assert err.value.reason == "receive_id_mismatch"
    with pytest.raises(SignatureError) as err:
        wecom(A).verify(request(A_XML_BODY, query={k: v for k, v in query.items() if k != "msg_signature"}, received_at=at(1476422779)))
    assert err.value.reason == "missing_signature"


def test_wecom_signed_garbage_fails_decryption_not_the_process():
    token, garbage = A["token"], "AAAAAAAAAAAAAAAAAAAAAA=="
    query = {"msg_signature": callback_crypto.msg_signature(token, "1476422779", "n", garbage), "timestamp": "1476422779", "nonce": "n"}
    body = f"<xml><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>".encode()
    with pytest.raises(SignatureError) as err:
        wecom(A).verify(request(body, query=query, received_at=at(1476422779)))
    assert err.value.reason == "decrypt_failed"


@pytest.mark.parametrize(
    "body", [b"<xml><Encrypt></Encrypt></xml>", b"not xml", b'{"encrypt": 5}', b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml>&a;</xml>"]
)
def test_wecom_malformed_envelopes(body):
    with pytest.raises(MalformedRequest):
        wecom(A).verify(request(body, query={"msg_signature": "x", "timestamp": "1", "nonce": "1"}))


def test_reply_encryption_round_trips_with_32_byte_padding():
    key = callback_crypto.aes_key(A["key"])
    for size in (0, 1, 11, 12, 31, 32, 100):
        message = b"m" * size
        assert callback_crypto.decrypt(key, callback_crypto.encrypt(key, message, A["corp"])) == (message, A["corp"])


DING = {"token": "mryue", "key": "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7", "corp": "ding6ccabc44d2c8d38b"}
DING_ENCRYPT = vendor_bytes("dingtalk/check_url_encrypt_vector.txt").decode()
DING_QUERY = {"msg_signature": "03044561471240d4a14bb09372dfcfd4fd0e40cb", "timeStamp": "1608001896814", "nonce": "WL4PK6yA"}


def dingtalk(**extra):
    section = {
        "scheme": "dingtalk",
        "credentials": [{"token": {"env": "T"}, "encoding_aes_key": {"env": "K"}}],
        "receive_ids": [DING["corp"]],
        **extra,
    }
    return make_verifier(config(section), TableSecrets({"T": DING["token"], "K": DING["key"]}))


def test_dingtalk_check_url_vector_and_encrypted_success_reply():
    body = json.dumps({"encrypt": DING_ENCRYPT}).encode()
    delivery = dingtalk().verify(request(body, query=DING_QUERY, received_at=at(1608001896.814 + 3)))
    assert delivery.handshake and json.loads(delivery.body) == {"EventType": "check_url"}
    reply = json.loads(delivery.reply.body)
    # The reply must verify and decrypt with the same token/key, as DingTalk will check it.
    assert reply["msg_signature"] == callback_crypto.msg_signature(DING["token"], reply["timeStamp"], reply["nonce"], reply["encrypt"])
    assert callback_crypto.decrypt(callback_crypto.aes_key(DING["key"]), reply["encrypt"]) == (b"success", DING["corp"])


def test_dingtalk_millisecond_window_and_forgery():
    body = json.dumps({"encrypt": DING_ENCRYPT}).encode()
    with pytest.raises(SignatureError) as err:
        dingtalk().verify(request(body, query=DING_QUERY, received_at=at(1608001896 + 3600)))
    assert err.value.reason == "timestamp_outside_window"
    with pytest.raises(SignatureError) as err:
        dingtalk().verify(request(body, query=DING_QUERY | {"timeStamp": "1608001896815"}, received_at=at(1608001896)))
    assert err.value.reason == "bad_signature"
    with pytest.raises(MalformedRequest):
        dingtalk().verify(request(b"{not json", query=DING_QUERY))

/* token_vectors.h: tokens minted by fsec's token.c before its MAC moved
 * from libsodium to OpenSSL's SHA-256 (commit 8df5f88, libsodium 1.0.18),
 * so that test_token.c proves old tokens still verify. Each was issued at
 * iat 1800000000 with TV_KEYS[key], the purpose, and the first len bytes
 * of tv_payload() as payload. The lengths put the MAC'd bytes (9 + len)
 * on either side of SHA-256's one- and two-block boundaries (55/56,
 * 63/64, 119/120 bytes); key 1 is exactly one block, key 2 is longer than
 * one (hashed first). Made by a throwaway program linked against the old
 * libfsec.a; do not regenerate them with the new code. */
#ifndef FSEC_TOKEN_VECTORS_H
#define FSEC_TOKEN_VECTORS_H

#include <stddef.h>

static const char *const TV_KEYS[3] = {
    "0123456789abcdef0123456789abcdef-key-A",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "+a-key-longer-than-one-sha256-block"};

/* payload byte i is (i * 37 + 11) mod 256 */
static void tv_payload(unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) p[i] = (unsigned char)(i * 37 + 11);
}

typedef struct token_vector {
  int key;
  const char *purpose;
  size_t len;
  const char *token;
} token_vector;

static const token_vector TOKEN_VECTORS[] = {
    {0, "auth", 0,
     "AQAAAABrSdIACynDYmxzifH-_p_1Od1SJAv9EiGXJK0-slwnuAX8MiM"},
    {0, "auth", 1,
     "AQAAAABrSdIAC2DhTamOEaBVkGe-AWHuNqBpk2S-mwL0ZuvKttAsDkZQ"},
    {0, "auth", 37,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaPz5Z"
     "7IOqpdtn2nmE-IVzFgyq4da9FkN71iGS7DaYoC1I"},
    {0, "auth", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjHOhuR089f5ZZbVlTmsjZ3N66yg13SYFnX-9WXYPyNgM"},
    {0, "auth", 47,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLG_LLAAadhSkk1fv0aliF46XaHuL-bh9G8_AJrK9mr8jg"},
    {0, "auth", 54,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-0HwhqxjFVxiWEzUPLtMDdHOQituk8ip7k4hUA8Hq5HCA"},
    {0, "auth", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02SKGc65ia0m7Ravg701uqcL-abPTZBRChdI5RCU66jQj"},
    {0, "auth", 110,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zOC3dRomFKKm8oc_YHDfUwWRUEEuJY2sEP"
     "82_YIWJsrQ"},
    {0, "auth", 119,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9BmTySlwKMxvZX5tkgIheqgq"
     "VbgVdzsCdbyGn8ybnASSeg"},
    {0, "auth", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1CtjVTjec_nMP_DRVeEFZlMw708o_w-DGBI_YG"
     "5uUukY8"},
    {0, "session", 0,
     "AQAAAABrSdIA1uKd7_-Wd9tLdO2WiI0USkhIiuEtpAp6_TsjwXDg_xI"},
    {0, "session", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjBQkq0r-B-YpQtBBytZa_Qo66OGGK2ib7BiTpm_gMZpB"},
    {0, "session", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02RS8zv3tPtl7EvGvnJxw8nCl95sHSR3wK6tL4epeDTee"},
    {0, "session", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1CfDaV294qe-MO1aDsNadFS3dbMdFhzrKEAaqS"
     "ZhCDMW4"},
    {0, "p", 0,
     "AQAAAABrSdIAGKLM4YBsHTJsMoN4VLiE7Qaxk2ZFca8pn1waBmU4F3U"},
    {0, "p", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjJho3kmo9GZwfebt45yV0GUR8YoVpHKSDAclN_qII4Ne"},
    {0, "p", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02WU0YHVP8073KxVwJnFqrVZk5jEI2AvsdfaaeLUQF6cF"},
    {0, "p", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1C3eu3aCY5RWKOEs5Un1FROJcA-W6gA2tnwiCG"
     "LYf942s"},
    {1, "auth", 0,
     "AQAAAABrSdIACWiwtgFr_dkJ0VuurpadxSRmZRA69TY-9x9DmslQOqQ"},
    {1, "auth", 1,
     "AQAAAABrSdIAC9sdpx8-21OEksEujbTkTZBaZKAqi5Xg0sMNTnVJzwJ_"},
    {1, "auth", 37,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP1uj"
     "bZJQtXAcSxNgGdjHBzbMzyUSmT_4eJfky7QGxBnI"},
    {1, "auth", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjPraXxtOg-GtQfAx3tbnq3P4uHHYTGFps6-D9FIKTvjl"},
    {1, "auth", 47,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLFdf2zL9QLmr97WypqDuqSzbqlFiGMVPWI0MY063THTKA"},
    {1, "auth", 54,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-01dQ1sPA96s4eq-I8196FLbng-GrJtiBTAIin5tFGjVI"},
    {1, "auth", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02YwuSYy84QaNGvA7SC3Wxss6FObQGp8_RXi20QjacHKS"},
    {1, "auth", 110,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8yFR2IMYw65yhQmG4zmCWL1wkiLLkFvmeZ4"
     "e09rb95WuA"},
    {1, "auth", 119,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9BmwRzwA-OVay-e0psYo-Xgf"
     "nNpqDbV6a83-k0KxbHbHiw"},
    {1, "auth", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1CHqlWlzeNdH0QymSPKffT3QGkhDVu-9OqiIGZ"
     "vpfn1aA"},
    {1, "session", 0,
     "AQAAAABrSdIA2vCi5vGvXgkOMRNepnuNbaTer6j9pXvVLN0D2K1vWNg"},
    {1, "session", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjMnKhqTZLvBNPyO0xGSZLubeGJkMUCMpgVsWJBeacx6u"},
    {1, "session", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02UEqlHMTACgw8954FosNrLIYhA8mo3i-j-wQKPiRNXTR"},
    {1, "session", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1CdkvLghrL6VHxIOtshKZF-g2vBsn7o5iQYmgl"
     "nm0M3iY"},
    {1, "p", 0,
     "AQAAAABrSdIAMXaaxGG1ZFVEEoC7iFllxxYPiccgRPwWKl6tKrIvJ2E"},
    {1, "p", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjM6KkHnll3VoIJ04hwmegJd6z20lZ560vxO9vYmRM4Gq"},
    {1, "p", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02SmG2YwDkC0wlaizvISXsdVa5T0gkbyoiZ6QojXIXISf"},
    {1, "p", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1C3_PjSgtb3iC4kQcqqoamMuRkBQNydge4-SrO"
     "kMjHZOI"},
    {2, "auth", 0,
     "AQAAAABrSdIAYdY7gMDxHRLbAcNBGTM8ENc6yEkP_Qxrq8la1N4ZXt4"},
    {2, "auth", 1,
     "AQAAAABrSdIAC7dodn0SKmCHghhiU0i7JSJf3jF2jldOj0s2U-RjTiAx"},
    {2, "auth", 37,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2QY"
     "7XKD2X0vpUElaMegfm3dQs4O5vb8k415COcfb0UZ"},
    {2, "auth", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjBj66Lf2V-onsH8Nr0gunKt0aCoaHvwdg96emI_bDpe_"},
    {2, "auth", 47,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHaFXwk6a75PmfjxMJUmnvzfXBJs9qEUcm1jTMIxN21TA"},
    {2, "auth", 54,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-0KpSg17dqNH6q671XDQekJgLSWfBNg3L7_zF-spknqKQ"},
    {2, "auth", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02S3WkD8clQUelsqIzsZvSDwWmfJwlWsdgv5vUEQJE5T8"},
    {2, "auth", 110,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8ykfWj5Ixd4SaeFPJbTL_mM23TKskZ7CbEM"
     "fWiR6V-G7Q"},
    {2, "auth", 119,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bl8TolvemPSRNBIOBI5lv7X"
     "SOnNGCHqDzNw93YCgdoypQ"},
    {2, "auth", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1Cqd9hP9pHOz4h4xRgSTzccBdx2w4MFPmLflTe"
     "0V0eV1I"},
    {2, "session", 0,
     "AQAAAABrSdIAqXErAC7irWC2tajkv1jkzhgX2mNJu5oU4WitIwev-Sw"},
    {2, "session", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjAeBcYqlIHTLadpcu43Db_0UB4fflRou2a0Qaxe0zv0N"},
    {2, "session", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02YBB3catJxH170TXLZdkVmuEfnwQn_xXtKzPokrCz6rW"},
    {2, "session", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1CvAs5Gz-6LNJU3WVN_w6Uo7C9Ynre0RUZGcos"
     "1zJRjEE"},
    {2, "p", 0,
     "AQAAAABrSdIAvzMxxfEGrHWOL5RtlIoSlheFFHfTAYhim4jnvukrf_w"},
    {2, "p", 46,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjFJvTVyV_Vd__tLZMP2kyIM2lgz2I_9SUL0imFuQLBmu"},
    {2, "p", 55,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02Xhxrv7h-O4vlLXPkUZY8BcGsxziGnuUgt6Q7GetFN1z"},
    {2, "p", 300,
     "AQAAAABrSdIACzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJ"
     "rtP4HUJnjLHW-yBFao-02f4jSG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5"
     "nsPoDTJXfKHG6xA1Wn-kye4TOF2Cp8zxFjtgharP9Bk-Y4it0vccQWaLsNX6H0Rp"
     "jrPY_SJHbJG22wAlSm-Uud4DKE1yl7zhBitQdZq_5AkuU3idwucMMVZ7oMXqDzRZ"
     "fqPI7RI3XIGmy_AVOl-Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa_yRJ"
     "bpO43QInTHGWu-AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5"
     "XoOozfIXPGGGq9D1Gj9kia7T-B1CY3UajvO440JH6kpp9JyKOm50_oPsha0CcyQ-"
     "2M9sfq0"},
};

#endif

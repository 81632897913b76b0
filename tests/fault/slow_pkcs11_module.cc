// A PKCS#11 module for tests/integration/test_pkcs11_slow.py: a token that stops answering. It
// forwards every call to a real module (SoftHSM2), and while a control file exists the calls that
// use the token's key (and the session checks) wait until the file is removed — a call that
// cannot be cancelled, as with an HSM that hangs on the network.
//
// Environment, read at each intercepted call:
//   COFFER_SLOW_PKCS11_MODULE   the real module (default /usr/lib/softhsm/libsofthsm2.so)
//   COFFER_SLOW_PKCS11_CONTROL  the control file; while it exists, calls stall
#define CRYPTOKI_GNU 1
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <unistd.h>

#include <cstdlib>

namespace {

ck_function_list* real = nullptr;
ck_function_list shim;

void Stall() {
  const char* control = std::getenv("COFFER_SLOW_PKCS11_CONTROL");
  while (control != nullptr && ::access(control, F_OK) == 0) {
    ::usleep(10'000);
  }
}

ck_rv_t GetSessionInfo(ck_session_handle_t session, ck_session_info* info) {
  Stall();
  return real->C_GetSessionInfo(session, info);
}

ck_rv_t GetAttributeValue(ck_session_handle_t session, ck_object_handle_t object,
                          ck_attribute* templ, unsigned long count) {
  Stall();
  return real->C_GetAttributeValue(session, object, templ, count);
}

ck_rv_t UnwrapKey(ck_session_handle_t session, ck_mechanism* mechanism,
                  ck_object_handle_t unwrapping_key, unsigned char* wrapped_key,
                  unsigned long wrapped_key_len, ck_attribute* templ, unsigned long attribute_count,
                  ck_object_handle_t* key) {
  Stall();
  return real->C_UnwrapKey(session, mechanism, unwrapping_key, wrapped_key, wrapped_key_len, templ,
                           attribute_count, key);
}

ck_rv_t Decrypt(ck_session_handle_t session, unsigned char* encrypted_data,
                unsigned long encrypted_data_len, unsigned char* data, unsigned long* data_len) {
  Stall();
  return real->C_Decrypt(session, encrypted_data, encrypted_data_len, data, data_len);
}

}  // namespace

extern "C" ck_rv_t C_GetFunctionList(ck_function_list** list) {
  if (real == nullptr) {
    const char* path = std::getenv("COFFER_SLOW_PKCS11_MODULE");
    void* handle =
        ::dlopen(path != nullptr ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return CKR_GENERAL_ERROR;
    auto get =
        reinterpret_cast<ck_rv_t (*)(ck_function_list**)>(::dlsym(handle, "C_GetFunctionList"));
    if (get == nullptr || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;
    shim = *real;
    shim.C_GetSessionInfo = GetSessionInfo;
    shim.C_GetAttributeValue = GetAttributeValue;
    shim.C_UnwrapKey = UnwrapKey;
    shim.C_Decrypt = Decrypt;
  }
  *list = &shim;
  return CKR_OK;
}

//! The JNI bridge behind `org.etkmqtt.NativeClient`: every `unsafe` block and
//! every JNI call of etkmqtt lives in this crate.
//!
//! Each entry point is thin: convert the arguments, call the engine, convert
//! the error once ([`throw`]). A panic never crosses into the JVM: it is
//! caught at the boundary and becomes an `IllegalStateException` with the
//! core's panic text. Clients live in the core's handle table
//! ([`etkmqtt_core::boundary::Handles`]): Java holds a number, never a
//! pointer, so a closed or freed client is an error, not a crash.
#![deny(clippy::unwrap_used)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod sparkplug;
mod strings;
mod tagjson;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use etkmqtt_core::boundary::{panic_message, Handles};
use etkmqtt_core::{Client, Event, EventSink};
use jni::objects::{GlobalRef, JByteArray, JClass, JMethodID, JObject, JString, JValue};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jboolean, jint, jlong, jobject, jstring, jvalue, JNI_TRUE};
use jni::{JNIEnv, JavaVM};

use strings::java_string as string;

const EW_EXCEPTION: &str = "org/etkmqtt/EWException";
const INTERNAL_ERROR: &str = "java/lang/IllegalStateException";

/// Every client a Java `MqttClient` holds, by its handle.
static CLIENTS: Handles<Client> = Handles::new();

/// Everything an entry point can fail with; [`throw`] maps each to one Java
/// exception.
enum BridgeError {
    /// Rejected by the engine: an `EWException` with the engine's text.
    Engine(String),
    /// A JNI call failed; a Java exception may already be pending.
    Jni(jni::errors::Error),
}

impl From<etkmqtt_core::Error> for BridgeError {
    fn from(error: etkmqtt_core::Error) -> BridgeError {
        BridgeError::Engine(error.to_string())
    }
}

impl From<jni::errors::Error> for BridgeError {
    fn from(error: jni::errors::Error) -> BridgeError {
        BridgeError::Jni(error)
    }
}

type BridgeResult<T> = Result<T, BridgeError>;

fn throw(env: &mut JNIEnv<'_>, error: BridgeError) {
    if env.exception_check().unwrap_or(false) {
        // The JVM already has the precise exception (e.g. OutOfMemoryError).
        return;
    }
    let _ = match error {
        BridgeError::Engine(message) => env.throw_new(EW_EXCEPTION, message),
        BridgeError::Jni(jni::errors::Error::JavaException) => Ok(()),
        BridgeError::Jni(other) => {
            env.throw_new(INTERNAL_ERROR, format!("etkmqtt JNI call failed: {other}"))
        }
    };
}

/// Runs an entry point's body: errors become Java exceptions, panics an
/// `IllegalStateException`; `fallback` is returned to Java in both cases.
fn boundary<'local, T>(
    env: &mut JNIEnv<'local>,
    fallback: T,
    body: impl FnOnce(&mut JNIEnv<'local>) -> BridgeResult<T>,
) -> T {
    match catch_unwind(AssertUnwindSafe(|| body(env))) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            throw(env, error);
            fallback
        }
        Err(panic) => {
            if !env.exception_check().unwrap_or(false) {
                let _ = env.throw_new(INTERNAL_ERROR, panic_message(panic.as_ref()));
            }
            fallback
        }
    }
}

/// The client behind a handle: one from `create` that `free` has not
/// removed. A call keeps it alive even if `free` runs meanwhile.
fn client(handle: jlong) -> BridgeResult<Arc<Client>> {
    CLIENTS
        .get(handle)
        .ok_or_else(|| BridgeError::from(etkmqtt_core::Error::Closed))
}

/// Calls `callMqttEvent(int)` on the Java client from the event thread.
struct JavaSink {
    vm: JavaVM,
    target: GlobalRef,
    call_mqtt_event: JMethodID,
}

impl JavaSink {
    fn new(env: &mut JNIEnv<'_>, target: &JObject<'_>) -> BridgeResult<JavaSink> {
        if target.is_null() {
            return Err(BridgeError::Engine(
                "event target must not be null".to_owned(),
            ));
        }
        let class = env.get_object_class(target)?;
        let call_mqtt_event = env.get_method_id(&class, "callMqttEvent", "(I)V")?;
        Ok(JavaSink {
            vm: env.get_java_vm()?,
            target: env.new_global_ref(target)?,
            call_mqtt_event,
        })
    }

    fn call(&self, code: jint) -> jni::errors::Result<()> {
        // The event thread lives as long as the client: attach it once, as a
        // daemon so that a client never closed does not keep the JVM alive.
        let mut env = self.vm.attach_current_thread_as_daemon()?;
        // SAFETY: `call_mqtt_event` was looked up on the class of `target`
        // with the signature (I)V, and exactly one int argument is passed.
        let result = unsafe {
            env.call_method_unchecked(
                &self.target,
                self.call_mqtt_event,
                ReturnType::Primitive(Primitive::Void),
                &[jvalue { i: code }],
            )
        };
        if env.exception_check()? {
            // The application's callback threw: report it, keep the client.
            env.exception_describe()?;
            env.exception_clear()?;
        }
        result.map(|_| ())
    }
}

impl EventSink for JavaSink {
    fn deliver(&mut self, event: Event) {
        let code = event.code();
        if self.call(code).is_err() {
            eprintln!("etkmqtt: could not deliver event {code} to callMqttEvent");
        }
    }
}

/// `MqttMessage(String, byte[], int, boolean)`, looked up once.
struct MessageClass {
    class: GlobalRef,
    constructor: JMethodID,
}

static MESSAGE_CLASS: OnceLock<MessageClass> = OnceLock::new();

fn message_class(env: &mut JNIEnv<'_>) -> BridgeResult<&'static MessageClass> {
    if let Some(cached) = MESSAGE_CLASS.get() {
        return Ok(cached);
    }
    let class = env.find_class("org/etkmqtt/MqttMessage")?;
    let constructor = env.get_method_id(&class, "<init>", "(Ljava/lang/String;[BIZ)V")?;
    let class = env.new_global_ref(class)?;
    Ok(MESSAGE_CLASS.get_or_init(|| MessageClass { class, constructor }))
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_create<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    mqtt_id: JString<'local>,
    host: JString<'local>,
    target: JObject<'local>,
) -> jlong {
    boundary(&mut env, 0, |env| {
        let mqtt_id = string(env, &mqtt_id, "mqttId")?;
        let host = string(env, &host, "host")?;
        let sink = JavaSink::new(env, &target)?;
        let client = Client::new(&mqtt_id, &host)?;
        client.set_event_sink(Some(Box::new(sink)))?;
        Ok(CLIENTS.insert(client))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_setOption<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    name: JString<'local>,
    value: JString<'local>,
) {
    boundary(&mut env, (), |env| {
        let name = string(env, &name, "option name")?;
        let value = string(env, &value, "option value")?;
        Ok(client(handle)?.set_option(&name, &value)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_connect<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    boundary(&mut env, (), |_| Ok(client(handle)?.connect()?))
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_status<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    boundary(&mut env, -1, |_| Ok(client(handle)?.status().code()))
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_lastError<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jstring {
    boundary(&mut env, std::ptr::null_mut(), |env| {
        match client(handle)?.last_error() {
            Some(text) => Ok(env.new_string(text)?.into_raw()),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_queuedCount<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    boundary(&mut env, 0, |_| {
        Ok(jint::try_from(client(handle)?.queued_count()).unwrap_or(jint::MAX))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_droppedCount<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    boundary(&mut env, 0, |_| {
        Ok(jlong::try_from(client(handle)?.dropped_count()).unwrap_or(jlong::MAX))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_subscribe<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    filter: JString<'local>,
    qos: jint,
) {
    boundary(&mut env, (), |env| {
        let filter = string(env, &filter, "topic filter")?;
        Ok(client(handle)?.subscribe(&filter, qos)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_unsubscribe<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    filter: JString<'local>,
) {
    boundary(&mut env, (), |env| {
        let filter = string(env, &filter, "topic filter")?;
        Ok(client(handle)?.unsubscribe(&filter)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_readMessage<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jobject {
    boundary(&mut env, std::ptr::null_mut(), |env| {
        let Some(message) = client(handle)?.read_message()? else {
            return Ok(std::ptr::null_mut());
        };
        let class = message_class(env)?;
        let topic = env.new_string(&message.topic)?;
        let payload = env.byte_array_from_slice(&message.payload)?;
        // SAFETY: `constructor` is MqttMessage(String, byte[], int, boolean)
        // of `class`, and the four arguments below have exactly those types.
        let object = unsafe {
            env.new_object_unchecked(
                <&JClass>::from(class.class.as_obj()),
                class.constructor,
                &[
                    JValue::Object(&topic).as_jni(),
                    JValue::Object(&payload).as_jni(),
                    JValue::Int(jint::from(message.qos)).as_jni(),
                    JValue::Bool(jboolean::from(message.retain)).as_jni(),
                ],
            )
        }?;
        env.delete_local_ref(topic)?;
        env.delete_local_ref(payload)?;
        Ok(object.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_publish<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    topic: JString<'local>,
    payload: JByteArray<'local>,
    qos: jint,
    retain: jboolean,
) {
    boundary(&mut env, (), |env| {
        let topic = string(env, &topic, "topic")?;
        let payload = if payload.is_null() {
            Bytes::new()
        } else {
            Bytes::from(env.convert_byte_array(&payload)?)
        };
        Ok(client(handle)?.publish_bytes(&topic, payload, qos, retain == JNI_TRUE)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_close<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    boundary(&mut env, (), |_| {
        client(handle)?.close();
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeClient_free<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    boundary(&mut env, (), |_| {
        // The client closes once the last call holding it returns.
        CLIENTS.remove(handle);
        Ok(())
    })
}

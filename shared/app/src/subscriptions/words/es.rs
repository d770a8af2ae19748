//! The subscribers' pages in Spanish.

use super::Words;

pub(super) static WORDS: Words = Words {
    title: "Avisos de estado",
    confirm_ask: "Confirme que quiere recibir en {email} los avisos de estado de {brand}.",
    confirm_button: "Confirmar la suscripción",
    confirmed: "Listo: {email} recibirá los avisos de estado de {brand}.",
    unsubscribe_ask: "¿Dejar de recibir en {email} los avisos de estado de {brand}?",
    unsubscribe_button: "Darse de baja",
    unsubscribed: "Listo: {email} ya no recibirá avisos de {brand}.",
    manage_ask: "Elija de qué servicios de {brand} quiere recibir avisos en {email}.",
    manage_all: "Todos, también los que se añadan",
    manage_button: "Guardar",
    managed: "Guardado: {email} recibirá avisos de los servicios elegidos.",
    not_subscribed: "{email} no está suscrito a los avisos de {brand}.",
    invalid: "Este enlace no es válido. Copie el enlace completo del correo o pida otro.",
    revoked: "Este enlace ya no es válido: use el del correo más reciente.",
    trouble: "No hemos podido guardar el cambio. Inténtelo de nuevo en unos minutos.",
    check_inbox: "Revise su correo: si {email} puede recibir avisos de {brand}, le hemos enviado un enlace para confirmar la suscripción. No recibirá nada más hasta que la confirme.",
    not_an_address: "Esa no parece una dirección de correo. Vuelva atrás y escríbala de nuevo.",
    busy: "Recibimos muchas suscripciones a la vez. Inténtelo de nuevo en unos minutos.",
};
